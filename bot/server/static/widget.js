/*
 * Business Porvoo chat widget. Add to any page with one tag:
 *   <script src="https://SERVER/static/widget.js" defer></script>
 * Optional attributes: data-server (API origin; default: where this script came from),
 * data-lang (fi, sv or en; default: the page's lang attribute).
 * Plain JavaScript, no build step. Every text is set with textContent, never as HTML.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var server = (script && script.getAttribute("data-server")) ||
    (script ? new URL(script.src, location.href).origin : location.origin);
  var STORE_KEY = "bpw-sender";
  var LANG_KEY = "bpw-lang";
  // The conversation's secret: the server sends it with the first reply; reading the
  // history or deleting the conversation needs it (the id alone unlocks nothing).
  var TOKEN_KEY = "bpw-token";
  var TOKEN_HEADER = "X-Conversation-Token";

  var TEXTS = {
    fi: { open: "Kysy yrityspalveluilta", close: "Sulje keskustelu", title: "Business Porvoo",
      language: "Kieli", input: "Kirjoita viestisi", send: "Lähetä",
      welcome: "Hei! Kerro lyhyesti, missä yrityksesi tarvitsee apua, niin ohjaan asian oikealle taholle.",
      typing: "Avustaja kirjoittaa…", privacy: "Tietosuoja", remove: "Poista keskusteluni",
      removed: "Keskustelu poistettiin.", confirmRemove: "Poistetaanko keskustelu ja siihen liittyvät tiedot?",
      notice: "Keskustelu tallennetaan kyselysi käsittelyä varten ja poistetaan säilytysajan jälkeen. Voit poistaa sen milloin tahansa.",
      you: "Sinä", bot: "Avustaja", error: "Viestiä ei voitu lähettää. Yritä hetken päästä uudelleen.",
      tooLong: "Viesti on liian pitkä: enintään {max} merkkiä. Lyhennä sitä tai lähetä se osissa; tekstisi on yhä kirjoituskentässä.",
      log: "Keskustelu" },
    sv: { open: "Fråga företagstjänsterna", close: "Stäng chatten", title: "Business Porvoo",
      language: "Språk", input: "Skriv ditt meddelande", send: "Skicka",
      welcome: "Hej! Berätta kort vad ditt företag behöver hjälp med, så hänvisar jag ärendet rätt.",
      typing: "Assistenten skriver…", privacy: "Dataskydd", remove: "Radera min konversation",
      removed: "Konversationen raderades.", confirmRemove: "Ska konversationen och uppgifterna i den raderas?",
      notice: "Konversationen sparas för att behandla ditt ärende och raderas efter lagringstiden. Du kan radera den när som helst.",
      you: "Du", bot: "Assistent", error: "Meddelandet kunde inte skickas. Försök igen om en stund.",
      tooLong: "Meddelandet är för långt: högst {max} tecken. Korta av det eller skicka det i delar; din text finns kvar i skrivfältet.",
      log: "Konversation" },
    en: { open: "Ask business services", close: "Close the chat", title: "Business Porvoo",
      language: "Language", input: "Type your message", send: "Send",
      welcome: "Hello! Tell me briefly what your company needs help with, and I'll direct it to the right people.",
      typing: "The assistant is typing…", privacy: "Privacy", remove: "Delete my conversation",
      removed: "The conversation was deleted.", confirmRemove: "Delete the conversation and its data?",
      notice: "The conversation is stored to handle your enquiry and deleted after the retention period. You can delete it at any time.",
      you: "You", bot: "Assistant", error: "The message could not be sent. Please try again in a moment.",
      tooLong: "The message is too long: at most {max} characters. Please shorten it or send it in parts; your text is still in the input field.",
      log: "Conversation" }
  };

  function pageLanguage() {
    var stored = safeGet(LANG_KEY);
    var wanted = stored || (script && script.getAttribute("data-lang")) ||
      document.documentElement.lang || "fi";
    wanted = wanted.toLowerCase().slice(0, 2);
    return TEXTS[wanted] ? wanted : "fi";
  }
  // Where the browser refuses storage (private mode), the page's memory keeps the
  // conversation and its token until the page is left.
  var memory = {};
  function safeGet(key) {
    try { var value = localStorage.getItem(key); if (value !== null) return value; } catch (e) { /* private mode */ }
    return Object.prototype.hasOwnProperty.call(memory, key) ? memory[key] : null;
  }
  function safeSet(key, value) { memory[key] = value; try { localStorage.setItem(key, value); } catch (e) { /* private mode */ } }
  function safeRemove(key) { delete memory[key]; try { localStorage.removeItem(key); } catch (e) { /* private mode */ } }
  // A new conversation: its id and its token, both random; the token goes with every
  // message, the first included, so a reply lost to a dropped connection can be asked again.
  function startConversation() {
    sender = newSender();
    safeSet(STORE_KEY, sender);
    safeSet(TOKEN_KEY, newSender().slice(2) + newSender().slice(2));
  }
  function newSender() {
    var bytes = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return "w-" + Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  var lang = pageLanguage();
  var sender = safeGet(STORE_KEY);
  var busy = false;

  var link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = server + "/static/widget.css";
  document.head.appendChild(link);

  var root = el("div", "bpw-root");
  var launcher = el("button", "bpw-launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "bpw-panel");
  var panel = el("section", "bpw-panel");
  panel.id = "bpw-panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-labelledby", "bpw-title");

  var header = el("div", "bpw-header");
  var title = el("h2", "bpw-title");
  title.id = "bpw-title";
  var langLabel = el("label", "bpw-sr");
  langLabel.htmlFor = "bpw-lang";
  var langSelect = el("select");
  langSelect.id = "bpw-lang";
  [["fi", "Suomi"], ["sv", "Svenska"], ["en", "English"]].forEach(function (pair) {
    var option = el("option", null, pair[1]);
    option.value = pair[0];
    option.lang = pair[0];
    langSelect.appendChild(option);
  });
  var closeButton = el("button", null, "×");
  closeButton.type = "button";
  header.appendChild(title);
  header.appendChild(langLabel);
  header.appendChild(langSelect);
  header.appendChild(closeButton);

  var notice = el("p", "bpw-notice");
  var log = el("div", "bpw-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-relevant", "additions");
  var typing = el("p", "bpw-typing");
  typing.hidden = true;
  typing.setAttribute("aria-live", "polite");

  var form = el("form", "bpw-form");
  var inputLabel = el("label");
  inputLabel.htmlFor = "bpw-input";
  var input = el("input");
  input.id = "bpw-input";
  input.type = "text";
  input.autocomplete = "off";
  input.maxLength = 2000;
  var sendButton = el("button");
  sendButton.type = "submit";
  form.appendChild(inputLabel);
  form.appendChild(input);
  form.appendChild(sendButton);

  var footer = el("div", "bpw-footer");
  var privacyButton = el("button");
  privacyButton.type = "button";
  privacyButton.setAttribute("aria-controls", "bpw-notice");
  notice.id = "bpw-notice";
  notice.hidden = true;
  var removeButton = el("button");
  removeButton.type = "button";
  footer.appendChild(privacyButton);
  footer.appendChild(removeButton);

  panel.appendChild(header);
  panel.appendChild(notice);
  panel.appendChild(log);
  panel.appendChild(typing);
  panel.appendChild(form);
  panel.appendChild(footer);
  root.appendChild(panel);
  root.appendChild(launcher);

  function applyTexts() {
    var t = TEXTS[lang];
    root.lang = lang;
    launcher.textContent = t.open;
    title.textContent = t.title;
    langLabel.textContent = t.language;
    langSelect.value = lang;
    closeButton.setAttribute("aria-label", t.close);
    closeButton.title = t.close;
    log.setAttribute("aria-label", t.log);
    typing.textContent = t.typing;
    inputLabel.textContent = t.input;
    input.placeholder = t.input;
    sendButton.textContent = t.send;
    privacyButton.textContent = t.privacy;
    removeButton.textContent = t.remove;
    notice.textContent = t.notice;
  }

  function addMessage(who, text) {
    var t = TEXTS[lang];
    var item = el("div", "bpw-msg " + (who === "user" ? "bpw-user" : "bpw-bot"));
    var label = el("span", "bpw-sr", (who === "user" ? t.you : t.bot) + ": ");
    item.appendChild(label);
    item.appendChild(document.createTextNode(text));
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  }

  function addButtons(buttons) {
    var row = el("div", "bpw-buttons");
    buttons.forEach(function (button) {
      var b = el("button", null, button.title);
      b.type = "button";
      b.addEventListener("click", function () {
        row.remove();
        send(button.payload, button.title);
      });
      row.appendChild(b);
    });
    log.appendChild(row);
    log.scrollTop = log.scrollHeight;
  }

  function clearButtons() {
    Array.prototype.forEach.call(log.querySelectorAll(".bpw-buttons"), function (row) {
      row.remove();
    });
  }

  function showReplies(replies) {
    replies.forEach(function (reply, index) {
      if (reply.text) addMessage("bot", reply.text);
      if (reply.buttons && reply.buttons.length && index === replies.length - 1) {
        addButtons(reply.buttons);
      }
    });
  }

  function request(method, path, body) {
    var options = { method: method, headers: {} };
    var token = safeGet(TOKEN_KEY);
    if (token) options.headers[TOKEN_HEADER] = token;
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(server + path, options).then(function (response) {
      var issued = response.headers.get(TOKEN_HEADER);
      if (issued) safeSet(TOKEN_KEY, issued);
      if (!response.ok && response.status !== 204) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          var error = new Error("HTTP " + response.status);
          error.status = response.status;
          error.detail = data && data.detail;
          throw error;
        });
      }
      return response.status === 204 ? null : response.json();
    });
  }

  function send(text, shown) {
    if (busy || !text.trim()) return;
    if (!sender || !safeGet(TOKEN_KEY)) startConversation();
    busy = true;
    clearButtons();
    addMessage("user", shown || text);
    typing.hidden = false;
    function post() {
      return request("POST", "/webhooks/rest/webhook",
        { sender: sender, message: text, metadata: { language: lang } });
    }
    post()
      .catch(function (error) {
        // The conversation is gone (deleted, purged) or its token was lost: go on in a
        // new one, with the message the customer just sent.
        if (error.status !== 404) throw error;
        startConversation();
        return post();
      })
      .then(showReplies)
      .catch(function (error) {
        // Nothing the customer wrote is lost: the text goes back into the input field.
        if (!input.value) input.value = text.charAt(0) === "/" ? "" : text;
        if (error.status === 413 && error.detail && error.detail.max_chars) {
          addMessage("bot", TEXTS[lang].tooLong.replace("{max}", error.detail.max_chars));
        } else {
          addMessage("bot", TEXTS[lang].error);
        }
      })
      .then(function () { busy = false; typing.hidden = true; input.focus(); });
  }

  function loadHistory() {
    log.textContent = "";
    if (!sender) { addMessage("bot", TEXTS[lang].welcome); return Promise.resolve(); }
    return request("GET", "/conversations/" + encodeURIComponent(sender) + "/history")
      .then(function (items) {
        if (!items.length) addMessage("bot", TEXTS[lang].welcome);
        items.forEach(function (item, index) {
          addMessage(item.sender, item.text);
          if (item.buttons && index === items.length - 1) addButtons(item.buttons);
        });
      })
      .catch(function () { addMessage("bot", TEXTS[lang].welcome); });
  }

  function open() {
    panel.hidden = false;
    root.classList.add("bpw-open");
    launcher.setAttribute("aria-expanded", "true");
    safeSet("bpw-open", "1");
    input.focus();
  }
  function close() {
    panel.hidden = true;
    root.classList.remove("bpw-open");
    launcher.setAttribute("aria-expanded", "false");
    safeRemove("bpw-open");
    launcher.focus();
  }

  launcher.addEventListener("click", function () { if (panel.hidden) open(); else close(); });
  closeButton.addEventListener("click", close);
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape") close();
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    input.value = "";
    send(text);
  });
  langSelect.addEventListener("change", function () {
    lang = langSelect.value;
    safeSet(LANG_KEY, lang);
    applyTexts();
  });
  privacyButton.addEventListener("click", function () {
    notice.hidden = !notice.hidden;
    privacyButton.setAttribute("aria-expanded", String(!notice.hidden));
  });
  removeButton.addEventListener("click", function () {
    if (!sender || !window.confirm(TEXTS[lang].confirmRemove)) return;
    request("DELETE", "/conversations/" + encodeURIComponent(sender)).then(function () {
      safeRemove(STORE_KEY);
      safeRemove(TOKEN_KEY);
      sender = null;
      log.textContent = "";
      addMessage("bot", TEXTS[lang].removed);
    }).catch(function () { addMessage("bot", TEXTS[lang].error); });
  });

  applyTexts();
  function mount() {
    document.body.appendChild(root);
    loadHistory();
    if (safeGet("bpw-open")) open();
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
