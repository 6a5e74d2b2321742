package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
)

// A raft log entry is: a format byte, the uvarint length of a JSON header
// (the command without its payload), the header, then the payload bytes as
// they are. Large payloads (telemetry batches) are thus never re-scanned by
// the JSON codec on the way through raft; only their handler parses them.
const entryFormat1 = 0x01

func encodeEntry(cmd *Command) ([]byte, error) {
	payload := cmd.Payload
	hdr := *cmd
	hdr.Payload = nil
	h, err := json.Marshal(&hdr)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 0, 1+binary.MaxVarintLen64+len(h)+len(payload))
	buf = append(buf, entryFormat1)
	buf = binary.AppendUvarint(buf, uint64(len(h)))
	buf = append(buf, h...)
	buf = append(buf, payload...)
	return buf, nil
}

func decodeEntry(data []byte, cmd *Command) error {
	if len(data) == 0 || data[0] != entryFormat1 {
		return errors.New("unknown log entry format")
	}
	n, k := binary.Uvarint(data[1:])
	if k <= 0 || uint64(len(data)-1-k) < n {
		return errors.New("truncated log entry header")
	}
	start := 1 + k
	if err := json.Unmarshal(data[start:start+int(n)], cmd); err != nil {
		return err
	}
	if rest := data[start+int(n):]; len(rest) > 0 {
		cmd.Payload = json.RawMessage(rest)
	}
	return nil
}
