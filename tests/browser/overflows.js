// Every label overflowing its box, and every chart label running out of its chart or into
// a bar: what a reader would see cut off or written over.
() => {
  const problems = [];
  const shown = (element) => element.getClientRects().length > 0;
  const name = (element) => `${element.tagName.toLowerCase()} "${element.textContent.trim().slice(0, 40)}"`;
  const boxes = "label, th, td, button, a.button, h1, h2, h3, legend, figcaption, dt, dd, caption, "
    + ".figures span, .figures strong, nav a";
  for (const element of document.querySelectorAll(boxes)) {
    if (!shown(element) || getComputedStyle(element).display === "inline") continue;
    if (element.scrollWidth > element.clientWidth + 1) problems.push(`${name(element)} overflows its box`);
  }
  const inside = (inner, outer) => inner.left >= outer.left - 1 && inner.right <= outer.right + 1;
  const overlap = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
  for (const chart of document.querySelectorAll("svg.bars")) {
    const box = chart.getBoundingClientRect();
    const bars = [...chart.querySelectorAll("rect")].map((bar) => bar.getBoundingClientRect()).filter((bar) => bar.width > 0);
    for (const text of chart.querySelectorAll("text")) {
      const label = text.getBoundingClientRect();
      if (!inside(label, box)) problems.push(`chart label "${text.textContent}" runs out of its chart`);
      if (bars.some((bar) => overlap(label, bar))) problems.push(`chart label "${text.textContent}" runs into a bar`);
    }
  }
  return problems;
}
