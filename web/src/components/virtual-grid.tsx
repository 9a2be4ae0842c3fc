import { useEffect, useLayoutEffect, useRef, useState, type ReactNode } from 'react';

export interface VirtualGridProps {
  count: number;
  /** Smallest size of one (square) cell including its gap, in CSS pixels; cells grow to fill the width. */
  minCell: number;
  /** Rows drawn above and below the visible ones, so fast scrolling does not show gaps. */
  overscanRows?: number;
  renderCell: (index: number) => ReactNode;
  /** Called with the visible index range [start, end) whenever it changes. */
  onRange?: (start: number, end: number) => void;
}

/**
 * A windowed grid: only the rows in view (plus a few) exist in the DOM, whatever `count` is, so 100,000
 * assets scroll as smoothly as 100. The scroller is the page area itself; the inner box has the full
 * height, and cells are placed absolutely.
 */
export function VirtualGrid({ count, minCell, overscanRows = 3, renderCell, onRange }: VirtualGridProps) {
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
  const rows = Math.ceil(count / columns);
  const firstRow = Math.max(0, Math.floor(scrollTop / cell) - overscanRows);
  const lastRow = Math.min(rows, Math.ceil((scrollTop + size.height) / cell) + overscanRows);
  const start = Math.min(count, firstRow * columns);
  const end = Math.min(count, lastRow * columns);

  useEffect(() => {
    if (size.width > 0) onRange?.(start, end);
  }, [start, end, size.width, onRange]);

  const cells: ReactNode[] = [];
  for (let index = start; index < end; index++) {
    const row = Math.floor(index / columns);
    const column = index % columns;
    cells.push(
      <div
        key={index}
        className="vgrid-cell"
        style={{ width: cell, height: cell, transform: `translate(${column * cell}px, ${row * cell}px)` }}
      >
        {renderCell(index)}
      </div>,
    );
  }
  return (
    <div className="vgrid-scroller" ref={scroller} data-testid="grid">
      <div className="vgrid-inner" style={{ height: rows * cell, width: columns * cell }}>
        {cells}
      </div>
    </div>
  );
}
