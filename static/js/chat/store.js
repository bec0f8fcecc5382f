// What the chat page knows: every message by id, the sends still waiting for their
// message.created, and which version of a reply the user flipped to. No DOM here.
//
// Messages are keyed by id, so replays never duplicate; a later change (changed_seq) wins.

export function slotOf(message) {
  return message.parent_id || message.id;
}

// Take `incoming` unless what we hold is newer: a later change (changed_seq) wins;
// for the same change, a growing stream keeps whichever text is longer.
function newer(incoming, known) {
  if (!known) return true;
  const a = Number(incoming.changed_seq) || 0;
  const b = Number(known.changed_seq) || 0;
  if (a !== b) return a > b;
  if (known.status === "streaming" && incoming.status !== "streaming") return true;
  if (incoming.status === "streaming" && known.status === "streaming") {
    return (incoming.content || "").length >= (known.content || "").length;
  }
  return true;
}

export function createStore({lastSeq}) {
  const store = {
    messages: new Map(), // id -> latest known message
    pending: new Map(), // client_id -> {text, element}
    chosen: new Map(), // slot root id -> id the user flipped to locally
    maxChangedSeq: Number(lastSeq) || 0,
    syncing: false, // a history.sync is in flight (deltas past a gap wait for its answer)

    // Merge one message; returns false when what we hold is newer (nothing to redraw).
    merge(message) {
      store.maxChangedSeq = Math.max(store.maxChangedSeq, Number(message.changed_seq) || 0);
      const known = store.messages.get(message.id);
      if (!newer(message, known)) return false;
      store.messages.set(message.id, message);
      if (message.role === "persona" && message.parent_id && !known && message.is_active) {
        store.chosen.delete(message.parent_id); // a fresh alternative is what the user wants to see
      }
      return true;
    },

    // The live versions of one reply slot (a user message is a slot of one), oldest first.
    slotMembers(root) {
      const members = [];
      for (const m of store.messages.values()) {
        if (slotOf(m) === root && !m.deleted) members.push(m);
      }
      members.sort((a, b) => a.seq - b.seq);
      return members;
    },

    deletedInSlot(root) {
      return [...store.messages.values()].filter((m) => slotOf(m) === root && m.deleted);
    },

    shownInSlot(members, root) {
      if (members.length === 1) return members[0];
      const pick = members.find((m) => m.id === store.chosen.get(root));
      if (pick) return pick;
      const active = members.filter((m) => m.is_active);
      return active.length ? active[active.length - 1] : members[members.length - 1];
    },

    isLast(message, predicate) {
      let last = null;
      for (const m of store.messages.values()) {
        if (m.deleted || !predicate(m)) continue;
        if (!last || m.seq > last.seq) last = m;
      }
      return Boolean(last && last.id === message.id);
    },

    streaming() {
      for (const m of store.messages.values()) if (m.status === "streaming" && !m.deleted) return m;
      return null;
    },
  };
  return store;
}
