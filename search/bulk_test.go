package search

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// Bulk writes batches concurrently: every document must be searchable after
// Flush, with its sections, and an invalid id must be refused.
func TestBulkConcurrentBatches(t *testing.T) {
	ix, err := Open(filepath.Join(t.TempDir(), "kb"))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	bw := ix.NewBulk(3) // many small batches, several in flight
	const n = 40
	for i := 0; i < n; i++ {
		text := fmt.Sprintf("第%d号测试办法\n第一条 本办法适用于编号%04d的试点。\n第二条 试点单位应当按月报送材料。", i, i)
		if err := bw.Add(NewDoc(fmt.Sprintf("d%02d", i), KindPolicy, "", text)); err != nil {
			t.Fatal(err)
		}
	}
	if err := bw.Add(&Doc{ID: "bad#id", Text: "x"}); err == nil || !strings.Contains(err.Error(), "invalid") {
		t.Fatalf("invalid id accepted: %v", err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if c, err := ix.Count(); err != nil || c != n {
		t.Fatalf("count = %d, %v; want %d", c, err, n)
	}
	r, err := ix.Search(context.Background(), Request{Query: "编号0037", Limit: 5})
	if err != nil || len(r.Hits) == 0 || r.Hits[0].ID != "d37" {
		t.Fatalf("search after bulk: %+v %v", r, err)
	}
	r, err = ix.Search(context.Background(), Request{Query: "编号0037 第二条", Limit: 5})
	if err != nil || len(r.Hits) == 0 || r.Hits[0].ID != "d37" || r.Hits[0].Article == nil || r.Hits[0].Article.Anchor != "art-2" {
		t.Fatalf("article after bulk: %+v %v", r, err)
	}
}
