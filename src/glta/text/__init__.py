"""The frozen LLM (loading, LLM-written user text) and the sentence encoder for text baselines."""
