// A long list that keeps elements only for what is on screen: the items in view and a screen's
// height above and below. Two spacers stand in for the others, as tall as the items they
// replace (measured once shown, estimated until then), so the page scrolls as if every item were
// there. Items come in lines of as many as the container's grid has columns (1 for the rows of a
// table). Scrolling and resizing render the new window on the next frame; a refresh updates the
// items shown. The browser's scroll anchoring keeps what is on screen in place when an estimate
// turns out wrong.

export class VirtualList {
  // container: the grid or tbody; spacer(): an element that spans a line of it; create(id): the
  // view of an item ({root, ...}); update(view, id): brings it up to date; estimate: the height
  // of a line not measured yet, in px; grid: whether the container is a CSS grid (lines of
  // several items, with its row gap between them).
  constructor(container, { spacer, create, update, estimate, grid = false }) {
    this.container = container;
    this.create = create;
    this.updateView = update;
    this.estimate = estimate;
    this.grid = grid;
    this.ids = [];
    this.views = new Map();
    this.heights = []; // per line, NaN until measured
    this.columns = 1;
    this.gap = 0;
    this.width = -1;
    this.generation = 0; // bumped when the data changes: a view of an older one is updated
    this.frame = 0;
    this.measuring = 0;
    this.window = [0, -1]; // the lines shown
    this.top = spacer();
    this.bottom = spacer();
    const later = () => this.schedule();
    window.addEventListener("scroll", later, { passive: true });
    window.addEventListener("resize", later, { passive: true });
  }

  // Shows `ids` (in order) and updates the views shown.
  show(ids) {
    this.ids = ids;
    this.generation++;
    this.render();
  }

  // Drops every element (the list is hidden, or signed out).
  clear() {
    this.ids = [];
    this.heights = [];
    this.generation++;
    for (const view of this.views.values()) view.root.remove();
    this.views.clear();
    this.top.remove();
    this.bottom.remove();
  }

  // Scrolls to the item `id` (near the top of the screen) and returns its view, or undefined
  // when the list does not hold it.
  reveal(id) {
    const index = this.ids.indexOf(id);
    if (index < 0 || !this.container.isConnected || this.container.offsetParent === null) return undefined;
    this.measureLayout();
    const line = Math.floor(index / this.columns);
    let y = 0;
    for (let l = 0; l < line; l++) y += this.lineHeight(l) + this.gap;
    const top = this.container.getBoundingClientRect().top + window.scrollY + y;
    window.scrollTo(0, Math.max(0, top - 16));
    this.render();
    return this.views.get(id);
  }

  // The views on screen.
  shown() {
    return this.views.values();
  }

  schedule() {
    if (this.frame || this.ids.length === 0) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  measureLayout() {
    const width = this.container.clientWidth;
    if (width === this.width) return;
    this.width = width;
    if (!this.grid) return;
    const style = getComputedStyle(this.container);
    const columns = style.gridTemplateColumns.split(" ").filter((track) => track && track !== "none").length;
    const gap = Number.parseFloat(style.rowGap);
    if (columns !== this.columns) this.heights = [];
    this.columns = Math.max(1, columns);
    this.gap = Number.isFinite(gap) ? gap : 0;
  }

  lineHeight(line) {
    const height = this.heights[line];
    return Number.isFinite(height) ? height : this.estimate;
  }

  render() {
    // A hidden list (another tab or layout) renders once shown again.
    if (!this.container.isConnected || this.container.offsetParent === null) return;
    this.measureLayout();
    const { columns, gap } = this;
    const lines = Math.ceil(this.ids.length / columns);
    if (this.heights.length > lines) this.heights.length = lines;

    // The window: the lines that meet the screen, a screen's height above and below.
    const screen = window.innerHeight;
    const offset = -this.container.getBoundingClientRect().top;
    const from = offset - screen;
    const to = offset + 2 * screen;
    let first = lines;
    let last = -1;
    let y = 0;
    for (let line = 0; line < lines; line++) {
      const height = this.lineHeight(line);
      if (y + height >= from && y <= to) {
        if (first === lines) first = line;
        last = line;
      } else if (y > to) break;
      y += height + gap;
    }
    // Off screen altogether: the line nearest to it stands for the list.
    if (first > last && lines > 0) first = last = offset < 0 ? 0 : lines - 1;
    [first, last] = this.keepFocus(first, last, lines);

    const wanted = [];
    for (let i = first * columns; i < Math.min(this.ids.length, (last + 1) * columns); i++) wanted.push(this.ids[i]);
    const keep = new Set(wanted);
    for (const [id, view] of this.views) {
      if (!keep.has(id)) {
        view.root.remove();
        this.views.delete(id);
      }
    }

    let above = 0;
    for (let line = 0; line < first && line < lines; line++) above += this.lineHeight(line) + gap;
    let below = 0;
    for (let line = last + 1; line < lines; line++) below += this.lineHeight(line) + gap;
    // A spacer is a line of its own, with the grid's gap after (or before) it.
    this.place(this.top, above - gap, first > 0);
    if (this.top.isConnected && this.container.firstChild !== this.top) this.container.prepend(this.top);

    let cursor = this.top.isConnected ? this.top.nextSibling : this.container.firstChild;
    for (const id of wanted) {
      let view = this.views.get(id);
      if (!view) {
        view = this.create(id);
        this.views.set(id, view);
      }
      if (view.generation !== this.generation) {
        view.generation = this.generation;
        this.updateView(view, id);
      }
      if (view.root === cursor) cursor = cursor.nextSibling;
      else this.container.insertBefore(view.root, cursor);
    }
    this.place(this.bottom, below - gap, last < lines - 1);
    if (this.bottom.isConnected && this.container.lastChild !== this.bottom) this.container.append(this.bottom);

    // The lines shown are measured before the next frame is painted, in the layout the browser
    // makes for it anyway (measured now, they would cost a layout of their own).
    this.window = [first, last];
    if (!this.measuring) {
      this.measuring = requestAnimationFrame(() => {
        this.measuring = 0;
        this.measure();
      });
    }
  }

  // Measures the lines shown; if they are not as estimated, the window is drawn again.
  measure() {
    if (!this.container.isConnected || this.container.offsetParent === null) return;
    const [first, last] = this.window;
    let changed = false;
    for (let line = first; line <= last; line++) {
      const view = this.views.get(this.ids[line * this.columns]);
      const height = view?.root.offsetHeight;
      if (!height) continue;
      if (Math.abs(height - this.lineHeight(line)) > 1) changed = true;
      this.heights[line] = height;
    }
    if (changed) this.render();
  }

  place(spacer, height, shown) {
    if (!shown) {
      spacer.remove();
      return;
    }
    const px = `${Math.max(0, height).toFixed(0)}px`;
    if (spacer.style.height !== px) spacer.style.height = px;
    if (!spacer.isConnected) this.container.append(spacer);
  }

  // The window, widened to the line of the element that has the keyboard focus (when it is
  // near), so that scrolling does not take the focus away.
  keepFocus(first, last, lines) {
    const focused = document.activeElement;
    if (!focused || !this.container.contains(focused) || lines === 0) return [first, last];
    for (const [id, view] of this.views) {
      if (!view.root.contains(focused)) continue;
      const line = Math.floor(this.ids.indexOf(id) / this.columns);
      if (line < 0) break;
      if (first > last) return [line, line];
      if (line < first && first - line <= 40) return [line, last];
      if (line > last && line - last <= 40) return [first, line];
      break;
    }
    return [first, last];
  }
}
