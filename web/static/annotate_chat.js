// labelfab labeling page: Label Studio's <Chat> (LLM conversations). The task data's messages and
// the ones the annotator adds (Label Studio's `chatmessage` items: {id, from_name: chat, to_name:
// chat, type: "chatmessage", value: {chatmessage: {role, content, createdAt}}}) are listed by role,
// as text (textContent). J/K or ↓/↑ select a message (↓/↑ only in the editor, whose J and K are its own): its per-message controls (perRegion="true",
// answers sharing the message's id, limited to the roles of a <View whenRole>) appear through
// annotate_linked.js, digits rate it; M opens the composer (Enter adds, Shift+Enter a new line),
// E edits the selected added message when the chat's `editable` names its role (Label Studio: task
// data messages are never editable), Delete removes a message the annotator added, Esc deselects. A task-data message is named by its
// own "id", else "msg-<index>" (labeling/schema/chat.py, message_id). Methods of annotate.js's
// Workspace class; see annotate_base.js for how a part joins the class.
(() => {
  "use strict";
  const A = window.labelfabAnno;
  const { uuid, el } = A;
  A.renderers.Chat = "renderChat";

  function shortAnswer(control, answer) {
    if (!answer) return "";
    if (answer.choices) return answer.choices.join(", ");
    if (answer.rating !== undefined) return `${"★".repeat(Number(answer.rating))} ${answer.rating}/${control.max_rating || 5}`;
    if (answer.text) return `“${answer.text.join(" ").slice(0, 40)}”`;
    const key = Object.keys(answer)[0];
    return key ? `${answer[key]}` : "";
  }

  A.part(class ChatPart {
    chatObjects() { return Object.values(this.objects).filter((o) => o.tag === "Chat"); }

    renderChat(obj, value) {
      const spec = ((this.schema.objects || {})[obj.name] || {}).chat || {};
      obj.kind = "chat";
      obj.spec = spec;
      obj.data = (Array.isArray(value) ? value : []).map((m, n) => ({
        id: m && typeof m.id === "string" && m.id ? m.id : `msg-${n}`,
        role: String((m && m.role) || ""), content: m && typeof m.content === "string" ? m.content : "", fromData: true,
      }));
      obj.added = []; // the annotator's messages: Label Studio's chatmessage items
      obj.selected = null;
      obj.list = obj.wrap.querySelector(".anno-chat");
      obj.input = obj.wrap.querySelector("[data-chat-input]");
      obj.role = obj.wrap.querySelector("[data-chat-role]");
      const send = obj.wrap.querySelector("[data-chat-send]");
      if (!obj.wrap.dataset.bound) { // the composer's elements live as long as the page
        obj.wrap.dataset.bound = "1";
        this.listen(send, "click", () => this.addChatMessage(this.objects[obj.name]));
        this.listen(obj.list, "click", (e) => {
          const item = e.target.closest("[data-message-id]");
          if (item) this.selectMessage(this.objects[obj.name], item.dataset.messageId);
        });
      }
      obj.input.value = "";
      obj.role.disabled = false;
      this.drawChat(obj);
    }

    messagesOf(obj) {
      return [...obj.data, ...obj.added.map((item) => ({ id: item.id, role: item.value.chatmessage.role,
        content: item.value.chatmessage.content, fromData: false }))];
    }

    drawChat(obj) {
      const nodes = this.messagesOf(obj).map((m, n) => {
        const item = el("li", { class: `anno-chat-msg anno-chat-${m.role.replace(/[^a-z]/g, "") || "other"}`,
          id: `chat-${obj.name}-${n}`, "data-message-id": m.id, "data-role": m.role, role: "option",
          "aria-selected": String(obj.selected === m.id) });
        item.classList.toggle("is-selected", obj.selected === m.id);
        item.classList.toggle("is-added", !m.fromData);
        item.append(el("span", { class: "anno-chat-role" }, m.fromData ? m.role : `${m.role} · added`),
          el("div", { class: "anno-chat-content" }, m.content));
        const answers = el("span", { class: "anno-chat-answers", "data-chat-answers": m.id });
        item.append(answers);
        return item;
      });
      obj.list.replaceChildren(...nodes);
      obj.list.setAttribute("role", "listbox");
      const selectedNode = obj.list.querySelector(".is-selected");
      obj.list.setAttribute("aria-activedescendant", selectedNode ? selectedNode.id : "");
      this.refreshChat();
    }

    // Each message's per-message answers, beside it; and the count of messages.
    refreshChat() {
      for (const obj of this.chatObjects()) {
        if (!obj.list) continue;
        const all = this.regionAnswers || {};
        for (const node of obj.list.querySelectorAll("[data-chat-answers]")) {
          const answers = all[node.dataset.chatAnswers] || {};
          const parts = this.perRegionControls().filter((c) => answers[c.name])
            .map((c) => `${c.name}: ${shortAnswer(c, answers[c.name])}`);
          node.textContent = parts.join(" · ");
          node.hidden = !parts.length;
        }
        const count = this.root.querySelector(`[data-chat-count="${CSS.escape(obj.name)}"]`);
        if (count) {
          const n = obj.data.length + obj.added.length;
          const low = this.chatLimit(obj.spec.min_messages), high = this.chatLimit(obj.spec.max_messages);
          count.textContent = `${n} message${n === 1 ? "" : "s"}${low ? ` · at least ${low}` : ""}${high ? ` · at most ${high}` : ""}`;
        }
      }
    }

    chatLimit(bound) {
      if (typeof bound === "number") return bound;
      const data = (this.current && this.current.task && this.current.task.data) || {};
      const value = typeof bound === "string" ? Number(data[bound]) : NaN;
      return Number.isInteger(value) ? value : null;
    }

    // The selected message as a region for annotate_linked.js: {id, to_name, role}.
    selectedMessage() {
      for (const obj of this.chatObjects()) {
        if (!obj.selected) continue;
        const m = this.messagesOf(obj).find((x) => x.id === obj.selected);
        if (m) return { id: m.id, to_name: obj.name, type: "chatmessage", value: {}, role: m.role };
      }
      return null;
    }

    // The task data's messages as regions (per-message answers name them; they are not in the result).
    chatRegions() {
      const out = [];
      for (const obj of this.chatObjects()) {
        for (const m of obj.data) out.push({ id: m.id, to_name: obj.name, type: "chatmessage", value: {}, role: m.role });
      }
      return out;
    }

    selectMessage(obj, id) {
      for (const other of this.chatObjects()) if (other !== obj) other.selected = null;
      obj.selected = id;
      this.drawChat(obj);
      this.syncRegionControls(); // annotate_linked.js: the message's answers in the per-message controls
      const node = obj.list.querySelector(".is-selected");
      if (node) node.scrollIntoView({ block: "nearest" });
    }

    clearMessage() {
      let had = false;
      for (const obj of this.chatObjects()) {
        if (obj.selected) { had = true; obj.selected = null; this.drawChat(obj); }
      }
      if (had) this.syncRegionControls();
      return had;
    }

    moveMessage(step) {
      const obj = this.chatObjects().find((o) => o.selected) || this.chatObjects()[0];
      if (!obj) return false;
      const messages = this.messagesOf(obj);
      if (!messages.length) return false;
      const at = messages.findIndex((m) => m.id === obj.selected);
      const next = at < 0 ? (step > 0 ? 0 : messages.length - 1) : Math.min(Math.max(at + step, 0), messages.length - 1);
      this.selectMessage(obj, messages[next].id);
      return true;
    }

    addChatMessage(obj) {
      const content = obj.input.value;
      if (!content.trim()) return;
      const editing = obj.editing && obj.added.find((item) => item.id === obj.editing);
      if (editing) { // E on an added message of an editable role: its content replaced, id and time kept
        editing.value.chatmessage.content = content;
        obj.editing = null;
        obj.input.value = "";
        obj.role.disabled = false;
        this.drawChat(obj);
        this.changed();
        return;
      }
      const high = this.chatLimit(obj.spec.max_messages);
      if (high !== null && obj.data.length + obj.added.length >= high) {
        this.notice(`This chat allows at most ${high} messages.`);
        return;
      }
      obj.added.push({ id: uuid().replace(/-/g, "").slice(0, 10), from_name: obj.name, to_name: obj.name,
        type: "chatmessage", origin: "manual",
        value: { chatmessage: { role: obj.role.value, content, createdAt: Date.now() } } });
      obj.input.value = "";
      this.drawChat(obj);
      this.changed();
    }

    // Keys of the composer's text box: Enter adds the message, Esc leaves. True when handled.
    onChatComposerKey(e, target) {
      const box = target.closest("[data-chat-composer]");
      const obj = box && this.objects[box.dataset.chatComposer];
      if (!obj || !target.matches("[data-chat-input]")) return false;
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        e.stopPropagation();
        this.addChatMessage(obj);
        return true;
      }
      if (e.key === "Escape") {
        if (obj.editing) { obj.editing = null; obj.input.value = ""; obj.role.disabled = false; }
        target.blur();
        obj.list.focus();
        return true;
      }
      return false; // typing
    }

    // J/K and ↓/↑ select messages, digits rate the selected one, M writes, Delete removes an added
    // message, Esc deselects. True when the key was the chat's.
    onChatKey(e, key) {
      const chats = this.chatObjects();
      if (!chats.length || e.ctrlKey || e.metaKey || e.altKey) return false;
      const lower = key.toLowerCase();
      const arrow = key === "ArrowDown" || key === "ArrowUp";
      if (arrow && e.target instanceof Element && e.target.closest("input, select, button, .anno-text")) return false;
      if (this.reviewing && (lower === "j" || lower === "k")) return false; // the editor's: next task, keep
      if (lower === "j" || lower === "k" || arrow) {
        e.preventDefault();
        this.moveMessage(lower === "j" || key === "ArrowDown" ? 1 : -1);
        return true;
      }
      if (lower === "m") {
        const obj = chats.find((o) => o.selected) || chats[0];
        e.preventDefault();
        obj.input.focus();
        return true;
      }
      const selected = chats.find((o) => o.selected);
      if (!selected) return false;
      if (key === "Escape") { e.preventDefault(); this.clearMessage(); return true; }
      if (lower === "e") { // edit a message the annotator added, in a role the chat's editable names
        const item = selected.added.find((x) => x.id === selected.selected);
        if (!item || !(selected.spec.editable || []).includes(item.value.chatmessage.role)) return false;
        e.preventDefault();
        selected.editing = item.id;
        selected.role.value = item.value.chatmessage.role;
        selected.role.disabled = true;
        selected.input.value = item.value.chatmessage.content;
        selected.input.focus();
        return true;
      }
      if (key === "Delete" || (key === "Backspace" && e.shiftKey)) {
        const at = selected.added.findIndex((item) => item.id === selected.selected);
        if (at < 0) return false; // a task-data message stays
        e.preventDefault();
        const [gone] = selected.added.splice(at, 1);
        if (this.regionAnswers) delete this.regionAnswers[gone.id];
        this.shownRegion = null;
        selected.selected = null;
        this.drawChat(selected);
        this.syncRegionControls();
        this.changed();
        return true;
      }
      if (/^[1-9]$/.test(lower) && !this.keyIndex.has(lower)) {
        const region = this.selectedMessage();
        const rating = this.perRegionControls().find((c) => c.type === "rating" && c.to_name === selected.name
          && this.regionShows(c, region));
        const fieldset = rating && this.root.querySelector(`[data-control="${CSS.escape(rating.name)}"]`);
        const input = fieldset && !fieldset.hidden && fieldset.querySelector(`input[value="${lower}"]`);
        if (input) { e.preventDefault(); input.checked = true; this.changed(); return true; }
      }
      return false;
    }

    // ---------------------------------------------------------------- result <-> page
    chatItems() {
      const out = [];
      for (const obj of this.chatObjects()) out.push(...obj.added.map((item) => A.clone(item)));
      return out;
    }

    setChatMessages(result) {
      for (const obj of this.chatObjects()) {
        obj.added = (result || []).filter((item) => item && item.type === "chatmessage" && item.to_name === obj.name
          && item.value && item.value.chatmessage).map((item) => A.clone(item));
        if (obj.selected && !this.messagesOf(obj).some((m) => m.id === obj.selected)) obj.selected = null;
        this.drawChat(obj);
      }
    }
  });
})();
