"""The tiny tic-tac-toe policy the closed-loop demo trains: a small causal LM built here,
from a ``transformers`` config and a tokenizer made on this machine (nothing downloaded).

Needs the ``training`` extra (torch, transformers, tokenizers); nothing else in
``prefstream_demo`` imports this package at module level.
"""
