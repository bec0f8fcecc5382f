"""What every part of companion may use: the one error family (the bottom layer in .importlinter)."""
