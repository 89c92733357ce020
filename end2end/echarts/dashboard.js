// The ECharts the dashboard serves: only what its charts use (line, bar and pie series on a
// grid, with tooltips and legends, drawn on canvas; light and dark themes come with the core).
// `cargo xtask build` bundles this with esbuild into one script that defines `window.echarts`.
import * as echarts from "echarts/core";
import { BarChart, LineChart, PieChart } from "echarts/charts";
import { GridSimpleComponent, LegendPlainComponent, TooltipComponent } from "echarts/components";
import { CanvasRenderer } from "echarts/renderers";

echarts.use([BarChart, LineChart, PieChart, GridSimpleComponent, LegendPlainComponent, TooltipComponent, CanvasRenderer]);

export const init = echarts.init;
export const getInstanceByDom = echarts.getInstanceByDom;
