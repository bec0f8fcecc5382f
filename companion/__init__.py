"""The companion chat server: chat, memory, scene extraction and the web UI."""
