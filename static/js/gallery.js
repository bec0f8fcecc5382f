// The persona gallery: search, tag filter and sort in the page, as you type.
// The server does the same from ?q=&tag=&sort= (companion/web/gallery.py), so links and
// the page without JavaScript agree; this keeps the address in step with history.replaceState.
const galleryForm = document.getElementById("gallery-tools");
const galleryGrid = document.getElementById("gallery");
if (galleryForm && galleryGrid) setup(galleryForm, galleryGrid);

function setup(form, grid) {
  const search = form.elements.q;
  const sort = form.elements.sort;
  const count = document.getElementById("gallery-count");
  const empty = document.getElementById("gallery-empty");
  const tagLinks = [...document.querySelectorAll(".tag-filter a[data-tag]")];
  const cards = [...grid.querySelectorAll(".persona-card")];
  const total = cards.length;
  let tag = (tagLinks.find((a) => a.getAttribute("aria-current") === "true") || {dataset: {tag: ""}}).dataset.tag;

  function tagsOf(card) {
    try {
      return JSON.parse(card.dataset.tags || "[]").map((t) => String(t).toLocaleLowerCase());
    } catch (_) {
      return [];
    }
  }

  function time(value) {
    const t = Date.parse(value || "");
    return Number.isNaN(t) ? -Infinity : t;
  }

  function apply() {
    const words = search.value.toLocaleLowerCase().split(/\s+/).filter(Boolean);
    const wanted = tag.toLocaleLowerCase();
    let shown = 0;
    for (const card of cards) {
      const text = card.dataset.search || "";
      const match = words.every((w) => text.includes(w)) && (!wanted || tagsOf(card).includes(wanted));
      card.hidden = !match;
      if (match) shown += 1;
    }
    const ordered = [...cards].sort(sort.value === "name"
      ? (a, b) => a.dataset.name.localeCompare(b.dataset.name, undefined, {sensitivity: "base"})
      : (a, b) => (time(b.dataset.last) - time(a.dataset.last)) || (time(b.dataset.created) - time(a.dataset.created)));
    grid.append(...ordered);
    count.textContent = shown === total ? `${total} persona${total === 1 ? "" : "s"}` : `${shown} of ${total} personas`;
    empty.hidden = shown > 0;
    for (const link of tagLinks) {
      if (link.dataset.tag.toLocaleLowerCase() === wanted) link.setAttribute("aria-current", "true");
      else link.removeAttribute("aria-current");
    }
    const params = new URLSearchParams();
    if (search.value.trim()) params.set("q", search.value.trim());
    if (tag) params.set("tag", tag);
    if (sort.value !== "recent") params.set("sort", sort.value);
    const query = params.toString();
    window.history.replaceState(null, "", query ? `?${query}` : window.location.pathname);
  }

  search.addEventListener("input", apply);
  sort.addEventListener("change", apply);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    apply();
  });
  for (const link of tagLinks) {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      tag = link.dataset.tag === tag ? "" : link.dataset.tag;
      apply();
    });
  }
  const hidden = form.querySelector("input[name=tag]");
  if (hidden) hidden.remove(); // the page keeps the tag from here on
  form.classList.add("live");
}
