# SPDX-License-Identifier: MIT
"""Real servers that tests and benchmarks start in temporary directories (PostgreSQL, Redis,
nginx). Nothing here downloads or reaches the network: loopback and unix sockets only."""
