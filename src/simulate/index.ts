/** The scenario simulator (issue 6 §5): drives benign traffic and labelled attacks through a broker. */
export { runSimulation } from './run.js';
export type { SimulateOptions } from './run.js';
export { formatReport, totals } from './report.js';
export type { ScenarioFinding, ScenarioReport, SimulationReport } from './report.js';
export { SCENARIOS } from './scenarios.js';
export type { Scenario } from './scenarios.js';
