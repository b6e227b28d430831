// Passkeys (WebAuthn): register one on the security page, sign in with one on the sign-in
// and second-factor pages. The server sends the options as JSON (base64url for bytes) and
// checks the answer; this script only converts between JSON and the browser's ArrayBuffers.
(function () {
  "use strict";

  function toBytes(value) {
    var base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) base64 += "=";
    var raw = atob(base64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      return Object.assign({}, item, { id: toBytes(item.id) });
    });
  }

  function credentialJSON(credential) {
    var response = credential.response;
    var out = {
      id: credential.id,
      rawId: toBase64url(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toBase64url(response.clientDataJSON) },
    };
    if (response.attestationObject) {
      out.response.attestationObject = toBase64url(response.attestationObject);
      if (response.getTransports) out.response.transports = response.getTransports();
    } else {
      out.response.authenticatorData = toBase64url(response.authenticatorData);
      out.response.signature = toBase64url(response.signature);
      if (response.userHandle) out.response.userHandle = toBase64url(response.userHandle);
    }
    return out;
  }

  function post(url, csrf, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body === undefined ? "{}" : JSON.stringify(body),
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) throw new Error((data.error && data.error.message) || response.status);
        return data;
      });
    });
  }

  function showError(box, error) {
    var slot = box.querySelector("[data-passkey-error]");
    if (!slot) return;
    slot.textContent = error && error.message ? error.message : String(error);
    slot.hidden = false;
  }

  function register(box) {
    var csrf = box.getAttribute("data-csrf");
    var nameInput = box.querySelector("input[name=name]");
    post("/account/security/passkeys/options", csrf)
      .then(function (options) {
        options.challenge = toBytes(options.challenge);
        options.user.id = toBytes(options.user.id);
        options.excludeCredentials = descriptors(options.excludeCredentials);
        return navigator.credentials.create({ publicKey: options });
      })
      .then(function (credential) {
        return post("/account/security/passkeys", csrf, {
          credential: credentialJSON(credential),
          name: nameInput ? nameInput.value : "",
        });
      })
      .then(function (data) { window.location.assign(data.redirect); })
      .catch(function (error) { showError(box, error); });
  }

  function signIn(box) {
    var csrf = box.getAttribute("data-csrf");
    var next = box.getAttribute("data-next") || "";
    post("/login/passkey/options", csrf)
      .then(function (options) {
        options.challenge = toBytes(options.challenge);
        options.allowCredentials = descriptors(options.allowCredentials);
        return navigator.credentials.get({ publicKey: options });
      })
      .then(function (credential) {
        var url = "/login/passkey" + (next ? "?next=" + encodeURIComponent(next) : "");
        return post(url, csrf, { credential: credentialJSON(credential) });
      })
      .then(function (data) { window.location.assign(data.redirect); })
      .catch(function (error) { showError(box, error); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var supported = !!(window.PublicKeyCredential && navigator.credentials);
    document.querySelectorAll("[data-passkey-register], [data-passkey-login]").forEach(function (box) {
      var button = box.querySelector("button");
      if (!supported) { box.hidden = true; return; }
      button.addEventListener("click", function () {
        if (box.hasAttribute("data-passkey-register")) register(box); else signIn(box);
      });
    });
  });
})();
