"""`hopfield attention-heads`: the head classes I-IV of Section 4 (Fig. A.3), by k90.

- ``from_file``: heads of attention weights read from a file (``attention=<file>``).
- ``pretrained``: heads of a pre-trained BERT run on pinned text (``pretrained=minilm|FOLDER``).
"""
