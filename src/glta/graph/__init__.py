"""Graph collaborative-filtering encoders (LightGCN; later HCCF)."""
