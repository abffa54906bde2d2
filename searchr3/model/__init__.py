"""The causal LM behind every embedding: loading the base (the embedded SmolLM2 default, a local folder or
a hub id), adding ``<|embed_token|>``, every prompt the model sees, applying and identifying LoRA adapters,
caching merged weights, precision (float32/bfloat16), the int8 single-sequence decoder, and the torch
threads inference may use."""
