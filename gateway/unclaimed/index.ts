/**
 * Unclaimed traffic: what the monolith answers because no route claims it. The dashboard lists
 * the busiest path templates so a team sees which endpoints are still only on the monolith.
 */
export {
  createUnclaimedPaths,
  templateOf,
  type UnclaimedPaths,
  type UnclaimedPathsOptions,
  type UnclaimedReport,
  type UnclaimedTemplate,
} from './path-templates.js';
