"""The paper's two training stages, from scratch: contrastive SFT (LM + KL + InfoNCE + triplet losses;
``python -m training.sft``) and RL that optimises reasoning for retrieval (``python -m training.rl``) in an
environment that refreshes only the affected part of the corpus index; their data, configuration,
checkpoints, plots, and the accelerator kit (``training.kit``). Uses :mod:`searchr3`; nothing imports it."""
