"""The real trainer: DPO with Hugging Face TRL in a worker process, beside the simulated clock.

Nothing here imports torch/transformers/trl at module level except ``worker`` and
``trl_training`` (run only in the worker process), so nmp-local works without the extra.
"""
