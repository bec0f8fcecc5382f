"""/api/memory/… routes (included once from companion/api/urls.py)."""

from django.urls import path

from companion.memory.api import views

urlpatterns = [
    path("conversations/<int:conversation_id>/memories/", views.ConversationMemoriesView.as_view(),
         name="memory-list"),
    path("conversations/<int:conversation_id>/relationship/", views.RelationshipView.as_view(),
         name="memory-relationship"),
    path("conversations/<int:conversation_id>/recall/", views.RecallView.as_view(), name="memory-recall"),
    path("memories/<int:memory_id>/", views.MemoryDetailView.as_view(), name="memory-detail"),
    path("debug/prompt/<int:message_id>/", views.PromptDebugView.as_view(), name="memory-debug-prompt"),
]
