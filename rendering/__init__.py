"""Rendering: scene beats to video clips. Imports ``personas`` only, never ``companion``."""
