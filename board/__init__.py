"""The board: hardware abstraction (``hal``), Linux backends, the simulated board and board profiles."""
