"""No admin for memories, relationships or summaries, on purpose.

They are the user's private record of their conversations: the product keeps
them private to that user, staff and superusers included. Users see and edit
them in the chat's Memory panel; a creator debugging a persona inspects the
prompt of replies in their own conversations (/api/memory/debug/prompt/<id>/).
"""
