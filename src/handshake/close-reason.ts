/** The closed label sets live in the leaf src/core/labels.ts (observability/ names them too). */
export {
  CLOSE_REASONS,
  REJECTION_REASONS,
  rejectionFor,
  type CloseReason,
  type RejectionReason,
} from '../core/labels';
