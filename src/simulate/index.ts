/** The scenario simulator: drives benign traffic and labelled attacks through a broker, so detection is measured on both. */
export { runSimulation } from './run.js';
export type { SimulateOptions } from './run.js';
export { formatReport, totals } from './report.js';
export type { ScenarioFinding, ScenarioReport, SimulationReport } from './report.js';
export { SCENARIOS } from './scenarios.js';
export type { Scenario } from './scenarios.js';
