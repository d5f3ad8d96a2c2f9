// Keeps the page live: asks the server for the view when its version moved (204 when not)
// and swaps it in. No framework; the page is complete without this script.
(function () {
  "use strict";
  const view = document.getElementById("view");
  const live = document.getElementById("live");
  if (!view) return;
  const every = Number(view.dataset.refreshMs) || 2000;

  function say(state, text) {
    if (!live) return;
    live.dataset.state = state;
    live.textContent = text;
  }

  function clock() {
    return new Date().toISOString().slice(11, 19);
  }

  function ticked() {
    return new Set(
      Array.from(view.querySelectorAll('input[name="compare"]:checked'), (box) => box.value)
    );
  }

  function swap(html, version, keep) {
    view.innerHTML = html;
    view.dataset.version = version;
    if (keep === null) return;
    for (const box of view.querySelectorAll('input[name="compare"]')) {
      box.checked = keep.has(box.value);
    }
  }

  let touched = false; // the user ticked a box: keep their choice across refreshes
  view.addEventListener("change", (event) => {
    if (event.target && event.target.name === "compare") touched = true;
  });

  async function poll() {
    const url = new URL(view.dataset.src, window.location.href);
    url.searchParams.set("since", view.dataset.version);
    try {
      const response = await fetch(url, { cache: "no-store" });
      if (response.status === 200) {
        const version = response.headers.get("X-View-Version") || view.dataset.version;
        swap(await response.text(), version, touched ? ticked() : null);
        say("live", "live · updated " + clock() + " UTC");
      } else if (response.status === 204) {
        say("live", "live · checked " + clock() + " UTC");
      } else {
        say("stale", "view answered " + response.status + "; retrying");
      }
    } catch (error) {
      say("stale", "view unreachable; retrying");
    }
    window.setTimeout(poll, every);
  }

  document.body.dataset.script = "running";
  poll();
})();
