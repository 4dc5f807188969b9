"""Hardware drivers and their channel drivers; they reach the board only through ``board.hal``."""
