// Shared helpers: JSON calls to the API, and short messages for the user.
"use strict";

async function api(method, url, body) {
  const options = { method, headers: {} };
  if (body instanceof FormData) {
    options.body = body;
  } else if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(url, options);
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok && !(data && data.files)) {
    const message = data && data.error ? data.error + (data.detail ? ` (${data.detail})` : "") : response.statusText;
    throw new Error(message);
  }
  return { status: response.status, data };
}

function toast(message, bad) {
  const box = document.getElementById("toast");
  const line = document.createElement("p");
  line.textContent = message;
  if (bad) line.className = "bad";
  box.appendChild(line);
  setTimeout(() => line.remove(), bad ? 9000 : 4000);
}
