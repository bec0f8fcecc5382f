"""A streaming reply whose owner died is ended by one service, at one threshold (SWEEP_STREAM_STALE_S)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone

from companion.chat import services
from companion.chat.groups import GROUP_MESSAGE_TYPE, conversation_group
from companion.chat.models import Message

pytestmark = pytest.mark.django_db


def _quiet_reply(conversation, *, seconds: float) -> Message:
    _, _, reply = services.exchange_begin(conversation=conversation, text="hi", client_id="c1")
    services.reply_save_progress(message_id=reply.pk, content="Hello the")
    Message.objects.filter(pk=reply.pk).update(updated_at=timezone.now() - timedelta(seconds=seconds))
    return reply


def test_a_new_message_ends_a_reply_quiet_for_the_setting(conversation, settings):
    settings.SWEEP_STREAM_STALE_S = 30
    reply = _quiet_reply(conversation, seconds=31)
    services.exchange_begin(conversation=conversation, text="are you there?", client_id="c2")  # not busy
    reply.refresh_from_db()
    assert reply.status == Message.Status.INTERRUPTED and reply.content == "Hello the"
    assert reply.error_detail == services.STALE_REPLY_DETAIL


def test_a_reply_touched_within_the_setting_still_makes_a_new_message_busy(conversation, settings):
    settings.SWEEP_STREAM_STALE_S = 30
    _quiet_reply(conversation, seconds=20)
    with pytest.raises(services.ChatError, match="already being written"):
        services.exchange_begin(conversation=conversation, text="are you there?", client_id="c2")


def test_reply_expire_stale_tells_open_sockets(conversation):
    reply = _quiet_reply(conversation, seconds=600)
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(conversation_group(conversation.pk), channel)

    expired = services.reply_expire_stale()

    assert [m.pk for m in expired] == [reply.pk]
    sent = async_to_sync(layer.receive)(channel)
    assert sent["type"] == GROUP_MESSAGE_TYPE
    assert sent["frame"]["type"] == "message.done"
    assert sent["frame"]["message"]["id"] == reply.pk and sent["frame"]["message"]["status"] == "interrupted"
    assert services.reply_expire_stale() == []  # done once
