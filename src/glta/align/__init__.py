"""GLTA's alignment stages: node projectors, instruction templates, the GLLM head and its decoding modes."""
