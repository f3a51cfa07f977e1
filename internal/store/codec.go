package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/aksbot/aksbot/internal/aks"
)

func checkJob(job aks.Job) error {
	n, err := strconv.ParseUint(job.ID, 10, 64)
	if err != nil || n == 0 || strconv.FormatUint(n, 10) != job.ID {
		return fmt.Errorf("bad job ID %q", job.ID)
	}
	if job.Version < 1 {
		return fmt.Errorf("bad job version %d", job.Version)
	}
	if !job.State.Known() {
		return fmt.Errorf("unknown job state %q", job.State)
	}
	return nil
}

func encodeJob(job aks.Job) ([]byte, error) {
	if err := checkJob(job); err != nil {
		return nil, fmt.Errorf("encode job: %w", err)
	}
	data, err := json.Marshal(job)
	if err != nil {
		return nil, fmt.Errorf("encode job: %w", err)
	}
	return data, nil
}

// decodeJob decodes a stored job record. A record that is not valid JSON of a job, or that
// holds an impossible job, is an error: a damaged file must not crash the bot.
func decodeJob(data []byte) (aks.Job, error) {
	var job aks.Job
	if err := json.Unmarshal(data, &job); err != nil {
		return aks.Job{}, fmt.Errorf("decode job: %w", err)
	}
	if err := checkJob(job); err != nil {
		return aks.Job{}, fmt.Errorf("decode job: %w", err)
	}
	return job, nil
}

func encodeEvent(ev aks.Event) ([]byte, error) {
	data, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	return data, nil
}

func decodeEvent(data []byte) (aks.Event, error) {
	var ev aks.Event
	if err := json.Unmarshal(data, &ev); err != nil {
		return aks.Event{}, fmt.Errorf("decode event: %w", err)
	}
	if ev.Seq < 1 || ev.JobID == "" {
		return aks.Event{}, errors.New("decode event: missing job ID or sequence")
	}
	return ev, nil
}
