package wire

// UpgradeStatus is GET /v1/federation/upgrade: the formats in use, which member reads what, and
// whether the upgrade to the newer formats can be finalized.
type UpgradeStatus struct {
	// Release is the release of the node that answers.
	Release string `json:"release"`
	// Formats are this release's formats by kind.
	Formats []UpgradeFormat `json:"formats"`
	// Finalized are the newest formats the federation has finalized, by kind (empty: none yet).
	Finalized map[string]int `json:"finalized"`
	// FinalizedIndex is the control log index of the last finalize (0: none).
	FinalizedIndex uint64 `json:"finalized_index,omitempty"`
	// FinalizedBy is the release of the node that ordered it.
	FinalizedBy string `json:"finalized_by,omitempty"`
	// Members are every roster member with the formats it reports.
	Members []UpgradeMember `json:"members"`
	// CanFinalize is true when a newer format is held back and every member reports that it
	// reads it.
	CanFinalize bool `json:"can_finalize"`
	// Blockers say, one a member, why finalize cannot run yet.
	Blockers []string `json:"blockers"`
	// Next is the step an operator takes next.
	Next string `json:"next"`
}

// UpgradeFormat is one kind of format as this node's release handles it.
type UpgradeFormat struct {
	Kind string `json:"kind"`
	// Writes is the format this node writes now.
	Writes int `json:"writes"`
	// Newest is the newest format this release can write.
	Newest int `json:"newest"`
	// Finalized is the newest format the federation finalized (0: none recorded).
	Finalized int `json:"finalized"`
	// HeldBack is true while Newest is not written because the upgrade is not finalized.
	HeldBack bool `json:"held_back"`
}

// UpgradeMember is one member as the upgrade sees it.
type UpgradeMember struct {
	Name    string                   `json:"name"`
	Role    string                   `json:"role"`
	Status  string                   `json:"status"`
	Version string                   `json:"version,omitempty"`
	Formats map[string]FormatSupport `json:"formats"`
	// FormatsReported is false for a member that publishes no formats (an earlier release).
	FormatsReported bool `json:"formats_reported"`
	// Ready is true when the member reads every format finalize would let be written.
	Ready bool `json:"ready"`
	// Blocks says why it keeps finalize from running (empty when it does not).
	Blocks string `json:"blocks,omitempty"`
}

// UpgradeFinalized is POST /v1/federation/upgrade/finalize's answer.
type UpgradeFinalized struct {
	// Formats are the formats finalized in force after the call.
	Formats map[string]int `json:"formats"`
	// Index is the control log index of the finalize.
	Index uint64 `json:"index"`
	// Changed is false when everything asked was already finalized.
	Changed bool `json:"changed"`
}
