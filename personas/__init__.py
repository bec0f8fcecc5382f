"""Personas: fictional characters, their look, portraits, LoRAs and character cards.

This app imports nothing else of ours (see GUIDE.md's layering).
"""
