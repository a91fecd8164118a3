/**
 * Views of races and checkpoints: the N-way comparison model, the terminal
 * side-by-side renderer and pager, the local web viewer and its static report.
 */
export { compareFile, compareFiles, summarizeFile, sameLabel } from './nway.js';
export type { Agreement, CompareOptions, FileInput, FileKind, FileSide, FileStatus, HLine, NwayComparison, NwayFile, NwayFileSummary, NwayHunk, Variant } from './nway.js';
export { loadRaceComparison, loadFileInputs, attemptTrees, type RaceComparison } from './load.js';
export { renderSideBySide, renderFile, renderRaceSideBySide, type SideBySideOptions } from './terminal.js';
export { page, pagerCommand, shouldPage, type PageOptions } from './pager.js';
export { startViewer, type Viewer, type ViewerOptions } from './server.js';
export { writeReport, buildReport, type ReportOptions, type ReportResult } from './report.js';
export type { Boot, ComparisonIndex, ErrorAnswer, ErrorInfo, PickAnswer, StepFile, StepTree, TreeEntry } from './wire.js';
