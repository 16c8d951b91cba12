// Keeps the delivery counts in the header current while deliveries happen.
(function () {
  const counts = document.getElementById("counts");
  if (!counts) return;
  async function refresh() {
    try {
      const response = await fetch(counts.dataset.url, { credentials: "same-origin" });
      if (!response.ok) return;
      const data = await response.json();
      for (const [status, count] of Object.entries(data)) {
        const cell = counts.querySelector(`[data-status="${status}"]`);
        if (cell) cell.textContent = count;
      }
    } catch (_) { /* offline for a moment: try again next tick */ }
  }
  setInterval(refresh, 2000);
})();

// A page with a live section (a webhook's deliveries) refreshes it in place, so new
// deliveries and attempts appear without a reload.
(function () {
  const live = document.querySelector("[data-live]");
  if (!live) return;
  async function refresh() {
    try {
      const response = await fetch(location.href, { credentials: "same-origin" });
      if (!response.ok) return;
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.getElementById(live.id);
      if (fresh && fresh.innerHTML !== live.innerHTML) live.innerHTML = fresh.innerHTML;
    } catch (_) { /* try again next tick */ }
  }
  setInterval(refresh, 2000);
})();
