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
