"""Pages of the web UI. Thin: parse, authorise, call a service or selector, render.

Another user's conversation or private persona is a 404, never a 403, so ids
do not leak whose they are.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from companion.accounts.forms import DisplayNameForm, SignupForm
from companion.accounts.selectors import user_display_name
from companion.accounts.services import profile_set_display_name
from companion.chat import services
from companion.chat.consumers import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from companion.chat.selectors import (
    conversation_branch_tree,
    conversation_get_for,
    conversation_list_for,
    messages_page,
)
from companion.chat.serializers import messages_payload
from companion.core.ratelimit import RateLimited, rate_check
from companion.web import pwa
from companion.web.gallery import SORTS, gallery_cards, gallery_filter, gallery_tags
from personas.models import Persona
from personas.selectors import persona_get_visible

# Templates the other apps add to the chat page (Evolve, memory, branches): all always installed.
CHAT_EXTRA_TEMPLATES = ("chat/_evolve.html", "chat/_memory.html", "chat/_branches.html")
HISTORY_PAGE = 200
THEMES = ("auto", "light", "dark")  # the "theme" cookie; static/js/theme.js writes the same one
THEME_COOKIE_AGE_S = 365 * 24 * 3600


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return render(request, "home.html")
    archived = request.GET.get("archived") == "1"
    conversations = conversation_list_for(user=request.user, archived=archived)
    return render(request, "chat/conversations.html", {"conversations": conversations, "archived": archived})


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:  # accounts per client address (the proxy-resolved one: companion.web.proxies)
            rate_check("signup", request.META.get("REMOTE_ADDR", ""))
        except RateLimited as exc:
            form.add_error(None, exc.detail)
            response = render(request, "registration/signup.html", {"form": form}, status=429)
            response["Retry-After"] = str(exc.retry_after_s)
            return response
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("personas")
    return render(request, "registration/signup.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    """The account page: the display name, and the way to export or delete everything."""
    if request.method == "POST" and "theme" in request.POST:
        return _theme_set(request, request.POST["theme"])
    form = DisplayNameForm(request.POST or None, initial={"display_name": user_display_name(request.user)})
    if request.method == "POST" and form.is_valid():
        profile_set_display_name(user=request.user, display_name=form.cleaned_data["display_name"])
        messages.success(request, "Display name saved.")
        return redirect("account")
    return render(request, "account/account.html", {"form": form, "themes": THEMES},
                  status=400 if form.errors else 200)


def _theme_set(request: HttpRequest, theme: str) -> HttpResponse:
    """Keep the colour theme in the "theme" cookie (read by base.html on every page, so no flash)."""
    if theme not in THEMES:
        messages.error(request, "Unknown theme.")
        return redirect("account")
    messages.success(request, "Theme saved.")
    response = redirect("account")
    response.set_cookie("theme", theme, max_age=THEME_COOKIE_AGE_S, samesite="Lax",
                        secure=request.is_secure(), httponly=False)  # theme.js reads and writes it too
    return response


def _visible_persona(request: HttpRequest, slug_or_id: str) -> Persona:
    try:
        return persona_get_visible(user=request.user, slug_or_id=slug_or_id)
    except Persona.DoesNotExist as exc:
        raise Http404 from exc


@login_required
def persona_gallery(request: HttpRequest) -> HttpResponse:
    """Cards of every visible persona; ?q= searches name, tagline and tags, ?tag= filters, ?sort= orders."""
    query = request.GET.get("q", "")[:200]
    tag = request.GET.get("tag", "")[:200]
    sort = request.GET.get("sort", "recent")
    sort = sort if sort in SORTS else "recent"
    cards = gallery_cards(user=request.user, sort=sort)
    context = {
        "cards": gallery_filter(cards, query=query, tag=tag),
        "total": len(cards),
        "tags": gallery_tags(cards),
        "query": query,
        "tag": tag,
        "sort": sort,
        "sorts": SORTS,
    }
    return render(request, "personas/gallery.html", context)


@login_required
def persona_portrait(request: HttpRequest, slug: str) -> FileResponse:
    """A persona's portrait, only to those who may see the persona (MEDIA_ROOT is not served wholesale).

    Those who see every persona in the admin (superusers, "personas.publish_persona") see every
    portrait: the admin's thumbnails come from here too.
    """
    if request.user.has_perm("personas.publish_persona"):
        persona = Persona.objects.filter(slug=slug).first()
        if persona is None:
            raise Http404
    else:
        persona = _visible_persona(request, slug)
    if not persona.portrait:
        raise Http404
    try:
        handle = persona.portrait.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    response = FileResponse(handle)
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
@require_POST
def conversation_new(request: HttpRequest) -> HttpResponse:
    persona = _visible_persona(request, request.POST.get("persona", ""))
    conversation = services.conversation_start(owner=request.user, persona=persona)
    return redirect("chat", conversation_id=conversation.pk)


def _own_conversation(request: HttpRequest, conversation_id: int):
    conversation = conversation_get_for(user=request.user, conversation_id=conversation_id)
    if conversation is None:
        raise Http404
    return conversation


@login_required
@require_POST
def conversation_archive(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _own_conversation(request, conversation_id)
    archived = request.POST.get("archived", "1") == "1"
    services.conversation_archive(conversation=conversation, archived=archived)
    return redirect(reverse("home") + ("" if archived else "?archived=1"))


@login_required
@require_POST
def conversation_delete(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _own_conversation(request, conversation_id)
    services.conversation_delete(conversation=conversation)
    return redirect("home")


@login_required
def chat(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _own_conversation(request, conversation_id)
    history = messages_page(conversation=conversation, limit=HISTORY_PAGE)
    context = {
        "conversation": conversation,
        "persona": conversation.persona,
        # Rendered by chat.js through json_script (escaped), then textContent: never as HTML.
        # The limits, the socket's path (companion/routing.py) and the close codes after which
        # it must not reconnect come from here, not from literals in the JS.
        "chat_boot": {
            "conversation_id": conversation.pk,
            "socket_url": f"/ws/conversations/{conversation.pk}/",
            "close_codes": {"unauthenticated": CLOSE_UNAUTHENTICATED, "forbidden": CLOSE_FORBIDDEN},
            "max_chars": settings.CHAT_MAX_MESSAGE_CHARS,
            "persona_name": conversation.persona.name,
            "user_name": user_display_name(request.user),
            "last_seq": conversation.last_seq,
            "messages": messages_payload(history),
        },
        "extras": CHAT_EXTRA_TEMPLATES,
        "branch_tree": conversation_branch_tree(user=request.user, conversation=conversation),
    }
    return render(request, "chat/chat.html", context)


def portrait_url(persona) -> str | None:
    """Where a persona's portrait is served (visibility-checked), or None without one."""
    return reverse("persona-portrait", kwargs={"slug": persona.slug}) if persona.portrait else None


def web_manifest(request: HttpRequest) -> JsonResponse:
    """The web app manifest (companion.web.pwa), as application/manifest+json."""
    response = JsonResponse(pwa.manifest(), content_type="application/manifest+json")
    response["Cache-Control"] = "public, max-age=3600"
    return response


def service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker at the site's root (a worker controls only the paths under its own URL)."""
    response = HttpResponse(pwa.service_worker_source(), content_type="text/javascript; charset=utf-8")
    response["Cache-Control"] = "no-cache"  # the browser checks for a new version on every visit
    response["Service-Worker-Allowed"] = "/"
    return response
