"""Accounts: what a user is called (their ``Profile``), apart from the stock auth user."""
