"""The recommenders, one module per method (the registry that names them is ``glta.methods``)."""
