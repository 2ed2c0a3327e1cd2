// Login and logout post JSON (the server refuses form posts: see monoloop/ui/session.py);
// buttons marked data-post-json send their data-body to data-url the same way.
"use strict";

async function postJSON(url, body) {
  return fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify(body),
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const login = document.getElementById("login");
  if (login) {
    login.addEventListener("submit", async (event) => {
      event.preventDefault();
      const token = document.getElementById("token").value.trim();
      const response = await postJSON("/login", { token });
      if (response.ok) {
        window.location.assign(login.dataset.next || "/");
        return;
      }
      const problem = await response.json().catch(() => ({}));
      const shown = document.getElementById("login-error");
      shown.textContent = problem.message || "login failed";
      shown.hidden = false;
    });
  }
  const logout = document.querySelector("[data-logout]");
  if (logout) {
    logout.addEventListener("click", async () => {
      await postJSON("/logout", {});
      window.location.assign("/login");
    });
  }
  for (const button of document.querySelectorAll("[data-post-json]")) {
    button.addEventListener("click", async () => {
      if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
      const response = await postJSON(button.dataset.url, JSON.parse(button.dataset.body));
      const problem = response.ok ? null : await response.json().catch(() => ({}));
      const out = document.getElementById(button.dataset.out);
      if (out) out.textContent = response.ok ? "done" : problem.message || "failed";
      if (response.ok) window.location.reload();
    });
  }
});
