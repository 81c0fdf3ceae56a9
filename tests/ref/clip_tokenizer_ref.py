# SPDX-License-Identifier: MIT
"""An independent Python port of OpenAI CLIP's simple_tokenizer.py (github.com/openai/CLIP,
clip/simple_tokenizer.py), the reference our C tokenizer (src/clip/tokenizer.c) is tested
against. Differences from the original, matching Hugging Face's CLIPTokenizer run without ftfy
and our documented choice: no ftfy.fix_text and no html.unescape; text given as bytes is
decoded with errors="replace". Also writes Hugging Face's vocab.json + merges.txt from the .gz
(`python3 clip_tokenizer_ref.py --write-hf GZ DIR`) and tokenizes (`... GZ TEXT...`).
"""
import gzip
import json
import sys
from pathlib import Path

import regex

PATTERN = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE)


def bytes_to_unicode():
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def get_pairs(word):
    return {(word[i], word[i + 1]) for i in range(len(word) - 1)}


def whitespace_clean(text):
    return regex.sub(r"\s+", " ", text).strip()


def load_gz(path):
    """(vocab list, merges list) as simple_tokenizer builds them."""
    merges = gzip.open(path).read().decode("utf-8").split("\n")
    merges = [tuple(m.split()) for m in merges[1:49152 - 256 - 2 + 1]]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab.extend("".join(m) for m in merges)
    vocab.extend(["<|startoftext|>", "<|endoftext|>"])
    return vocab, merges


class Tokenizer:
    def __init__(self, gz_path):
        vocab, merges = load_gz(gz_path)
        self.byte_encoder = bytes_to_unicode()
        self.encoder = dict(zip(vocab, range(len(vocab))))
        self.bpe_ranks = dict(zip(merges, range(len(merges))))
        self.cache = {"<|startoftext|>": "<|startoftext|>", "<|endoftext|>": "<|endoftext|>"}
        self.sot = self.encoder["<|startoftext|>"]
        self.eot = self.encoder["<|endoftext|>"]

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        pairs = get_pairs(word)
        if not pairs:
            return token + "</w>"
        while True:
            bigram = min(pairs, key=lambda p: self.bpe_ranks.get(p, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                except ValueError:
                    new_word.extend(word[i:])
                    break
                new_word.extend(word[i:j])
                i = j
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = get_pairs(word)
        word = " ".join(word)
        self.cache[token] = word
        return word

    def encode(self, text):
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        text = whitespace_clean(text).lower()
        ids = []
        for token in PATTERN.findall(text):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self.bpe(token).split(" "))
        return ids

    def tokenize(self, text, context=77):
        """clip.tokenize(text, truncate=True) for one text, without the zero padding."""
        ids = [self.sot] + self.encode(text) + [self.eot]
        if len(ids) > context:
            ids = ids[:context]
            ids[-1] = self.eot
        return ids


def write_hf(gz_path, out_dir):
    """vocab.json and merges.txt as Hugging Face's openai/clip-vit-base-patch32 ships them."""
    vocab, merges = load_gz(gz_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "vocab.json", "w", encoding="utf-8") as f:
        json.dump({v: i for i, v in enumerate(vocab)}, f, ensure_ascii=False)
    with open(out / "merges.txt", "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write("%s %s\n" % (a, b))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--write-hf":
        write_hf(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 3:
        tok = Tokenizer(sys.argv[1])
        for t in sys.argv[2:]:
            print(" ".join(map(str, tok.tokenize(t))))
    else:
        sys.exit(__doc__)
