# SPDX-License-Identifier: MIT
"""A certificate authority and a server certificate made with the openssl command line, for
the gateway tests: the server certificate names 127.0.0.1 and localhost, and clients verify it
against the CA (never with verification turned off)."""
import ssl
import subprocess
from pathlib import Path

OPENSSL = "/usr/bin/openssl"


def _run(*args, cwd):
    r = subprocess.run([OPENSSL, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, "openssl %s: %s" % (" ".join(args), r.stderr)


class GatewayCA:
    """dir/ca.pem (the CA), dir/fullchain.pem (server certificate then CA) and dir/privkey.pem
    (the server's key): the names deploy/nginx.conf reads from /etc/nginx/tls/."""

    def __init__(self, directory):
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.dir = d
        self.ca = d / "ca.pem"
        self.fullchain = d / "fullchain.pem"
        self.privkey = d / "privkey.pem"
        if self.fullchain.exists():
            return
        _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=gymhelper test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
        _run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", "privkey.pem", "-out", "server.csr", "-subj", "/CN=127.0.0.1", cwd=d)
        (d / "server.ext").write_text(
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=serverAuth\n"
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        _run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext",
             cwd=d)
        self.fullchain.write_bytes((d / "server.pem").read_bytes() + self.ca.read_bytes())

    def client_context(self, **versions):
        """An ssl context that trusts only this CA; versions: minimum_version/maximum_version
        (ssl.TLSVersion) to pin the protocol a test offers."""
        ctx = ssl.create_default_context(cafile=str(self.ca))
        for k, v in versions.items():
            setattr(ctx, k, v)
        return ctx
