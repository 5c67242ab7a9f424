#!/usr/bin/env python3
# spm_reference.py: the reference side of tests/tokenizer/spm_differential_test.cpp. Encodes and decodes
# a corpus with Google's SentencePiece (Debian's python3-sentencepiece) so that latent's own SPM
# tokenizer can be compared with it. It shares no code with src/tokenizer.
#
#   spm_reference.py check                      exit 0 if sentencepiece imports, 3 otherwise
#   spm_reference.py MODEL CORPUS.json OUT.json  CORPUS: JSON list of strings; OUT: JSON list of
#                                               {"ids": [...], "text": decode(ids)} (no BOS/EOS)
import json
import sys


def main() -> int:
    try:
        import sentencepiece
    except ImportError:
        print("python module sentencepiece missing (apt-get install python3-sentencepiece)")
        return 3
    if sys.argv[1:] == ["check"]:
        return 0
    model, corpus_path, out_path = sys.argv[1:4]
    processor = sentencepiece.SentencePieceProcessor(model_file=model)
    with open(corpus_path, encoding="utf-8") as f:
        corpus = json.load(f)
    results = []
    for text in corpus:
        ids = processor.encode(text)
        results.append({"ids": ids, "text": processor.decode(ids)})
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(results, f, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
