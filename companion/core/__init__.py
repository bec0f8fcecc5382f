"""What every part of companion may use (the bottom layer in .importlinter).

The one error family (errors), the one rate limiter (ratelimit) and the log-correlation ids (context).
"""
