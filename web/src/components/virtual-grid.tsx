import { useEffect, useLayoutEffect, useMemo, useRef, useState, type ReactNode } from 'react';

/** A run of consecutive cells under one header (a month of a time-ordered grid). */
export interface GridSection {
  key: string;
  /** Index of its first cell. */
  start: number;
  count: number;
}

export interface VirtualGridProps {
  count: number;
  /** Smallest size of one (square) cell including its gap, in CSS pixels; cells grow to fill the width. */
  minCell: number;
  /** Headers splitting the cells; none: one run of cells without a header. */
  sections?: readonly GridSection[];
  headerHeight?: number;
  renderHeader?: (section: GridSection) => ReactNode;
  /** Rows drawn above and below the visible ones, so fast scrolling does not show gaps. */
  overscanRows?: number;
  renderCell: (index: number) => ReactNode;
  /**
   * Called with the drawn index range [start, end) whenever it changes, and the first cell actually in
   * view (the range includes the overscan rows).
   */
  onRange?: (start: number, end: number, first: number) => void;
  /** Scrolls so that this cell's section (or row) is at the top; a new object scrolls again. */
  scrollTo?: { index: number } | null;
}

interface Placed extends GridSection {
  /** Top of its header, and of its first row of cells. */
  top: number;
  cellsTop: number;
  bottom: number;
}

/**
 * A windowed grid: only the rows in view (plus a few) exist in the DOM, whatever `count` is, so 100,000
 * assets scroll as smoothly as 100. Sections (a month each) start on a new row under their header. The
 * scroller is the page area itself; the inner box has the full height, and everything is placed
 * absolutely.
 */
export function VirtualGrid(props: VirtualGridProps) {
  const { count, minCell, overscanRows = 3, renderCell, onRange } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const [size, setSize] = useState({ width: 0, height: 0 });
  const [scrollTop, setScrollTop] = useState(0);

  useLayoutEffect(() => {
    const element = scroller.current;
    if (!element) return;
    const measure = () => setSize({ width: element.clientWidth, height: element.clientHeight });
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  useEffect(() => {
    const element = scroller.current;
    if (!element) return;
    let frame = 0;
    const onScroll = () => {
      if (frame) return;
      frame = window.requestAnimationFrame(() => {
        frame = 0;
        setScrollTop(element.scrollTop);
      });
    };
    element.addEventListener('scroll', onScroll, { passive: true });
    return () => {
      element.removeEventListener('scroll', onScroll);
      if (frame) window.cancelAnimationFrame(frame);
    };
  }, []);

  const columns = Math.max(1, Math.floor(size.width / minCell));
  const cell = Math.max(minCell, Math.floor(size.width / columns));
  const header = props.sections && props.renderHeader ? (props.headerHeight ?? 40) : 0;
  const placed = useMemo(() => {
    const sections: readonly GridSection[] =
      props.sections && props.sections.length > 0 ? props.sections : [{ key: '', start: 0, count }];
    let y = 0;
    return sections.map((s): Placed => {
      const top = y;
      const cellsTop = top + header;
      y = cellsTop + Math.ceil(s.count / columns) * cell;
      return { ...s, top, cellsTop, bottom: y };
    });
  }, [props.sections, count, columns, cell, header]);
  const height = placed.at(-1)?.bottom ?? 0;

  // Where a cell is: its section, then its row within it.
  const scrollTo = props.scrollTo;
  useEffect(() => {
    const element = scroller.current;
    if (!scrollTo || !element) return;
    const section = placed.find((s) => scrollTo.index >= s.start && scrollTo.index < s.start + s.count);
    if (!section) return;
    const row = Math.floor((scrollTo.index - section.start) / columns);
    element.scrollTop = row === 0 ? section.top : section.cellsTop + row * cell;
  }, [scrollTo, placed, columns, cell]);

  const from = scrollTop - overscanRows * cell;
  const to = scrollTop + size.height + overscanRows * cell;
  const nodes: ReactNode[] = [];
  let start = count;
  let end = 0;
  for (const s of placed) {
    if (s.bottom < from || s.top > to) continue;
    if (header > 0)
      nodes.push(
        <div
          key={`h-${s.key}`}
          className="vgrid-header"
          style={{ height: header, transform: `translateY(${s.top}px)` }}
        >
          {props.renderHeader!(s)}
        </div>,
      );
    const rows = Math.ceil(s.count / columns);
    const firstRow = Math.max(0, Math.floor((from - s.cellsTop) / cell));
    const lastRow = Math.min(rows, Math.ceil((to - s.cellsTop) / cell));
    for (let row = firstRow; row < lastRow; row++) {
      for (let column = 0; column < columns; column++) {
        const offset = row * columns + column;
        if (offset >= s.count) break;
        const index = s.start + offset;
        start = Math.min(start, index);
        end = Math.max(end, index + 1);
        nodes.push(
          <div
            key={index}
            className="vgrid-cell"
            style={{
              width: cell,
              height: cell,
              transform: `translate(${column * cell}px, ${s.cellsTop + row * cell}px)`,
            }}
          >
            {renderCell(index)}
          </div>,
        );
      }
    }
  }
  if (end === 0) start = 0;
  const top = placed.find((s) => s.bottom > scrollTop);
  const first = top
    ? Math.min(
        top.start + top.count - 1,
        top.start + Math.max(0, Math.floor((scrollTop - top.cellsTop) / cell)) * columns,
      )
    : 0;

  useEffect(() => {
    if (size.width > 0) onRange?.(start, end, first);
  }, [start, end, first, size.width, onRange]);

  return (
    <div className="vgrid-scroller" ref={scroller} data-testid="grid">
      <div className="vgrid-inner" style={{ height, width: columns * cell }}>
        {nodes}
      </div>
    </div>
  );
}
