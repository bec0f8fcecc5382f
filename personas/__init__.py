"""Personas: fictional characters, their look, portraits, LoRAs and character cards.

This app imports nothing else of ours (the layering in .importlinter, README "How it is built").
"""
