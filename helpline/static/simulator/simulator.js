// The help line simulator: a phone and a text thread that talk to the server's simulator
// endpoints, which sign each request as Twilio would and send it to the real webhooks.
"use strict";

(function () {
  const body = document.body;
  const voiceUrl = body.dataset.voiceUrl;
  const smsUrl = body.dataset.smsUrl;
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  async function post(url, data) {
    const headers = { "Content-Type": "application/json", Accept: "application/json" };
    if (csrfMeta) headers["X-CSRFToken"] = csrfMeta.content;
    const response = await fetch(url, {
      method: "POST", headers, body: JSON.stringify(data), credentials: "same-origin",
    });
    let payload = null;
    try { payload = await response.json(); } catch (e) { payload = null; }
    if (!response.ok) {
      throw new Error((payload && payload.error) || `the simulator answered ${response.status}`);
    }
    return payload;
  }

  function hex(bytes) {
    const buffer = new Uint8Array(bytes);
    crypto.getRandomValues(buffer);
    return Array.from(buffer, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function scrollDown(node) { node.scrollTop = node.scrollHeight; }

  // --- Tabs ---------------------------------------------------------------------------
  const tabs = [["tab-voice", "voice-panel"], ["tab-sms", "sms-panel"]];
  for (const [tabId, panelId] of tabs) {
    $(tabId).addEventListener("click", () => {
      for (const [otherTab, otherPanel] of tabs) {
        const on = otherTab === tabId;
        $(otherTab).setAttribute("aria-selected", on ? "true" : "false");
        $(otherPanel).hidden = !on;
      }
    });
  }

  // --- The inspector: request, TwiML and log rows of each step -----------------------
  const LOG_COLUMNS = ["id", "direction", "kind", "node", "digits", "speech", "confidence", "body", "said"];

  function paramsTable(request) {
    const table = el("table", { class: "params" });
    for (const [name, value] of Object.entries(request.params)) {
      table.append(el("tr", {}, el("th", { text: name }), el("td", { text: value })));
    }
    table.append(el("tr", { class: "signature" }, el("th", { text: "X-Twilio-Signature" }),
      el("td", { text: request.signature })));
    return table;
  }

  function logTable(rows) {
    if (!rows.length) return el("p", { class: "muted", text: "No log rows." });
    const table = el("table", { class: "log" });
    table.append(el("tr", {}, ...LOG_COLUMNS.map((c) => el("th", { text: c }))));
    for (const row of rows) {
      table.append(el("tr", { class: `row-${row.direction}` },
        ...LOG_COLUMNS.map((c) => el("td", { text: row[c] === null || row[c] === undefined ? "" : row[c] }))));
    }
    return table;
  }

  function conversationSummary(conv) {
    if (!conv) return null;
    const parts = [
      `conversation ${conv.id}`, `${conv.channel}`, `flow ${conv.flow_id} ${conv.flow_version}`,
      `status ${conv.status}`, `disposition ${conv.disposition || "none yet"}`,
    ];
    if (conv.rules_fired && conv.rules_fired.length) parts.push(`rules: ${conv.rules_fired.join(", ")}`);
    const box = el("p", { class: "conversation", text: parts.join(" · ") });
    for (const cb of conv.callbacks || []) {
      box.append(el("br"), el("span", {
        class: "callback",
        text: `Staff queue: ${cb.queue}, priority ${cb.priority}, due ${cb.due_at}, ${cb.status}` +
          (cb.phone ? ` (call ${cb.phone})` : " (no number)"),
      }));
    }
    return box;
  }

  function requestBlock(title, request) {
    return el("div", { class: "request" },
      el("h4", { text: `${title}: ${request.method} ${request.url} → ${request.status} ${request.content_type}` }),
      el("details", {}, el("summary", { text: "Parameters and signature" }), paramsTable(request)),
      el("details", { open: "" }, el("summary", { text: "TwiML" }), el("pre", { class: "twiml", text: request.body })));
  }

  function addStep(container, count, label, step) {
    // Only the newest step stays open: the older ones fold away.
    for (const details of container.querySelectorAll("details[open]")) details.open = false;
    const box = el("article", { class: "step" },
      el("h3", { text: `Step ${count}: ${label}` }),
      requestBlock("Webhook", step.request));
    if (step.status_callback) box.append(requestBlock("Then Twilio's status callback", step.status_callback));
    box.append(el("h4", { text: "Log rows written" }), logTable(step.log));
    const summary = conversationSummary(step.conversation);
    if (summary) box.append(summary);
    container.prepend(box);
  }

  // --- The phone ----------------------------------------------------------------------
  const screen = $("voice-screen");
  const status = $("call-status");
  const keyed = $("keyed");
  const call = { sid: null, action: null, gather: null, digits: "", steps: 0, started: 0, busy: false };

  function say(text, cls) {
    screen.append(el("p", { class: cls, text }));
    scrollDown(screen);
  }

  function speak(prompts) {
    if (!$("speak-aloud").checked || !("speechSynthesis" in window)) return;
    for (const prompt of prompts) {
      if (!prompt.text || prompt.verb !== "Say") continue;
      for (let i = 0; i < Math.max(prompt.loop || 1, 1); i += 1) {
        const utterance = new SpeechSynthesisUtterance(prompt.text);
        utterance.lang = prompt.language || "en-GB";
        window.speechSynthesis.speak(utterance);
      }
    }
  }

  function setInCall(on) {
    for (const key of document.querySelectorAll(".key")) key.disabled = !on;
    for (const id of ["speech", "confidence", "say", "silence", "hangup"]) $(id).disabled = !on;
    $("dial").disabled = on;
    $("voice-from").disabled = on;
    $("withheld").disabled = on;
  }

  function describeGather(gather) {
    if (!gather) return "";
    const bits = [`listening for ${gather.input || "dtmf"}`];
    if (gather.numDigits) bits.push(`${gather.numDigits} key${gather.numDigits === "1" ? "" : "s"}`);
    else bits.push(`keys ending with ${gather.finishOnKey || "#"}`);
    if (gather.timeout) bits.push(`silent after ${gather.timeout} s`);
    return bits.join(", ");
  }

  function showVoiceStep(step, label) {
    call.steps += 1;
    addStep($("voice-steps"), call.steps, label, step);
    if (step.status !== 200) say(`The webhook answered ${step.status}.`, "error");
    for (const prompt of step.prompts) {
      const cls = ["prompt", prompt.loop > 1 ? "emergency" : "", prompt.in_gather ? "in-gather" : ""].join(" ").trim();
      const p = el("p", { class: cls, text: prompt.text });
      if (prompt.loop > 1) {
        p.append(el("span", { class: "times", text: prompt.loop === 2 ? " (said twice)" : ` (said ${prompt.loop} times)` }));
      }
      screen.append(p);
    }
    scrollDown(screen);
    speak(step.prompts);
    call.action = step.action;
    call.gather = step.gather;
    call.digits = "";
    keyed.textContent = "";
    if (step.ended) {
      const conv = step.conversation || {};
      endCall(`Call ended${conv.disposition ? `: disposition ${conv.disposition}` : ""}.`);
    } else {
      status.textContent = `In call: ${describeGather(step.gather)}`;
    }
  }

  function endCall(message) {
    status.textContent = message;
    say(message, "ended");
    call.sid = null;
    call.action = null;
    call.gather = null;
    setInCall(false);
  }

  async function voiceRequest(data, label) {
    if (call.busy) return;
    call.busy = true;
    try {
      const step = await post(voiceUrl, {
        call_sid: call.sid,
        from: $("withheld").checked ? "" : $("voice-from").value,
        duration: Math.round((Date.now() - call.started) / 1000),
        ...data,
      });
      if (data.hang_up) {
        call.steps += 1;
        addStep($("voice-steps"), call.steps, label, step);
        window.speechSynthesis && window.speechSynthesis.cancel();
        endCall("You hung up.");
      } else {
        showVoiceStep(step, label);
      }
    } catch (error) {
      say(`Simulator error: ${error.message}`, "error");
    } finally {
      call.busy = false;
    }
  }

  $("dial").addEventListener("click", () => {
    screen.replaceChildren();
    $("voice-steps").replaceChildren();
    call.sid = `CA${hex(16)}`;
    call.steps = 0;
    call.started = Date.now();
    setInCall(true);
    status.textContent = "Ringing...";
    voiceRequest({}, "the call comes in");
  });

  $("hangup").addEventListener("click", () => {
    if (call.sid) voiceRequest({ hang_up: true }, "you hang up");
  });

  function sendDigits(digits) {
    say(`You pressed ${digits}`, "you");
    voiceRequest({ action: call.action, digits }, `you press ${digits}`);
  }

  for (const key of document.querySelectorAll(".key")) {
    key.addEventListener("click", () => {
      if (!call.sid || !call.action) return;
      const pressed = key.dataset.key;
      const gather = call.gather || {};
      const finish = gather.finishOnKey === undefined ? "#" : gather.finishOnKey;
      if (gather.numDigits) {
        call.digits += pressed;
        keyed.textContent = `Keyed: ${call.digits}`;
        if (call.digits.length >= Number(gather.numDigits)) sendDigits(call.digits);
      } else if (pressed === finish) {
        if (call.digits) sendDigits(call.digits);
      } else {
        call.digits += pressed;
        keyed.textContent = `Keyed: ${call.digits} (press ${finish} to finish)`;
      }
    });
  }

  $("confidence").addEventListener("input", () => {
    $("confidence-value").textContent = Number($("confidence").value).toFixed(2);
  });

  $("speech-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const words = $("speech").value.trim();
    if (!call.sid || !call.action || !words) return;
    const confidence = Number($("confidence").value);
    say(`You said "${words}" (confidence ${confidence.toFixed(2)})`, "you");
    $("speech").value = "";
    voiceRequest({ action: call.action, speech: words, confidence }, `you say "${words}"`);
  });

  $("silence").addEventListener("click", () => {
    if (!call.sid || !call.action) return;
    say("You stay silent.", "you");
    voiceRequest({ action: call.action }, "you stay silent");
  });

  // --- Text messages ------------------------------------------------------------------
  const thread = $("sms-thread");
  let smsSteps = 0;
  let smsBusy = false;

  $("sms-new").addEventListener("click", () => {
    // Ofcom's drama range, 020 7946 0000 to 0999: a number that belongs to nobody.
    const n = new Uint16Array(1);
    crypto.getRandomValues(n);
    $("sms-from").value = `+442079460${String(n[0] % 1000).padStart(3, "0")}`;
    thread.replaceChildren(el("p", { class: "hint", text: "A new number: a new conversation." }));
    $("sms-steps").replaceChildren();
    smsSteps = 0;
  });

  $("sms-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("sms-body").value;
    if (!text.trim() || smsBusy) return;
    smsBusy = true;
    thread.append(el("p", { class: "bubble mine", text }));
    $("sms-body").value = "";
    scrollDown(thread);
    try {
      const step = await post(smsUrl, { from: $("sms-from").value, body: text });
      smsSteps += 1;
      addStep($("sms-steps"), smsSteps, `you text "${text}"`, step);
      if (step.status !== 200) thread.append(el("p", { class: "error", text: `The webhook answered ${step.status}.` }));
      if (!step.messages.length) thread.append(el("p", { class: "muted", text: "(no reply)" }));
      for (const message of step.messages) thread.append(el("p", { class: "bubble reply", text: message }));
      const out = step.segments && step.segments.out;
      if (out && out.segments) {
        thread.append(el("p", { class: "segments", text: `${out.characters} characters, ${out.encoding}, ${out.segments} segment${out.segments === 1 ? "" : "s"}` }));
      }
    } catch (error) {
      thread.append(el("p", { class: "error", text: `Simulator error: ${error.message}` }));
    } finally {
      smsBusy = false;
      scrollDown(thread);
    }
  });
}());
