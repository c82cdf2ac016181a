package trello

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pmsync/pmsync"
	"github.com/pmsync/pmsync/connectors"
	"github.com/pmsync/pmsync/connectors/httpapi"
)

// maxPushAttempts bounds how often one write that cannot be repeated
// blindly (a new card, label or comment) is tried.
const maxPushAttempts = 4

// pushCardFields are the card fields a push reads back before writing.
const pushCardFields = "id,name,desc,due,idBoard,idList,idLabels,closed,url,shortUrl"

// dueHour is the time of day, UTC, a pushed due date is set to: noon keeps
// the calendar date the same in every time zone from UTC−11 to UTC+11,
// where Trello shows due dates in the viewer's zone.
const dueHour = 12

// ErrOtherProgram is wrapped by the error of a push to a card that already
// shows another program's rollup.
var ErrOtherProgram = errors.New("the card shows another program's rollup")

// Push writes each rollup to target, at most once per rollup version.
//
// A card target shows one program: its description becomes the rollup's
// Summary (ending in the Marker line), its due date the next open
// milestone's (cleared when there is none), and a "Health: …" label the
// colour, replacing the previous health label and created on the board
// when missing. Rollups of more than one program for one card are refused
// before anything is written, and so is a card that already shows another
// program. A list target keeps one card per program in the list, found
// again by the program in its marker line and created when missing (a
// program card someone archived or moved to another list is left alone,
// and the list gets a new one). With Comment set, every version also adds
// one comment.
//
// Before writing, the card is read back: when its description already
// carries this version's marker (and, with Comment, a comment carries it),
// the receipt says Existing and nothing is written. Updating a card is a
// PUT of the whole state, which repeats harmlessly; a new card, label or
// comment is never posted twice blindly: when the answer is lost, the
// card, label or comment is looked for again first.
func (c *Connector) Push(ctx context.Context, target connectors.Target, rollups []pmsync.Rollup) ([]connectors.Receipt, error) {
	t, err := targetOf(target)
	if err != nil {
		return nil, fmt.Errorf("trello connection %q: %w", c.name, err)
	}
	for _, r := range rollups {
		if r.ID == "" || r.Version == "" {
			return nil, fmt.Errorf("trello connection %q: push to %s: a rollup has no program id or version", c.name, t.Key())
		}
		if _, _, err := HealthLabel(r.Health.Status); err != nil {
			return nil, fmt.Errorf("trello connection %q: push rollup %s %s to %s: %w", c.name, r.ID, r.Version, t.Key(), err)
		}
	}
	if t.Card != "" {
		var programs []string
		for _, r := range rollups {
			if !slices.Contains(programs, r.ID) {
				programs = append(programs, r.ID)
			}
		}
		if len(programs) > 1 {
			return nil, fmt.Errorf("trello connection %q: push to card %s: a card shows one program's rollup, not %d (%s); give each program a card target of its own, or push them to a list",
				c.name, t.Card, len(programs), strings.Join(programs, ", "))
		}
	}
	out := make([]connectors.Receipt, 0, len(rollups))
	for _, r := range rollups {
		rc, err := c.pushOne(ctx, t, r)
		if err != nil {
			return out, fmt.Errorf("trello connection %q: push rollup %s %s to %s: %w", c.name, r.ID, r.Version, t.Key(), err)
		}
		out = append(out, rc)
	}
	return out, nil
}

// pushCard is a card as a push reads it back.
type pushCard struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Desc     string   `json:"desc"`
	Due      *string  `json:"due"`
	IDBoard  string   `json:"idBoard"`
	IDList   string   `json:"idList"`
	IDLabels []string `json:"idLabels"`
	Closed   bool     `json:"closed"`
	URL      string   `json:"url"`
	ShortURL string   `json:"shortUrl"`
}

func (pc pushCard) link() string {
	if pc.ShortURL != "" {
		return pc.ShortURL
	}
	return pc.URL
}

func (c *Connector) pushOne(ctx context.Context, t Target, r pmsync.Rollup) (connectors.Receipt, error) {
	var (
		cd      pushCard
		created bool
		err     error
	)
	if t.Card != "" {
		cd, err = c.readPushCard(ctx, t.Card)
		if err != nil {
			return connectors.Receipt{}, err
		}
		if program, _, ok := readMarker(cd.Desc); ok && program != r.ID {
			return connectors.Receipt{}, fmt.Errorf("card %s: %w (%s); clear its description to hand it to %s", t.Card, ErrOtherProgram, program, r.ID)
		}
	} else {
		cd, created, err = c.programCard(ctx, t.List, r)
		if err != nil {
			return connectors.Receipt{}, err
		}
	}
	wrote := created
	if _, version, _ := readMarker(cd.Desc); version != r.Version {
		if err := c.writeCard(ctx, &cd, r, t.List != ""); err != nil {
			return connectors.Receipt{}, err
		}
		wrote = true
	}
	if t.Comment {
		posted, err := c.comment(ctx, cd.ID, r)
		if err != nil {
			return connectors.Receipt{}, err
		}
		wrote = wrote || posted
	}
	return connectors.Receipt{Program: r.ID, ID: cd.ID, URL: cd.link(), Existing: !wrote}, nil
}

func (c *Connector) readPushCard(ctx context.Context, id string) (pushCard, error) {
	var cd pushCard
	if err := c.api.GetJSON(ctx, "/cards/"+id, urlValues("fields", pushCardFields), &cd); err != nil {
		return cd, c.fail("read card "+id, err)
	}
	return cd, nil
}

// programCard finds the program's card in a list, or creates it. created
// reports that this call made the card.
func (c *Connector) programCard(ctx context.Context, list string, r pmsync.Rollup) (pushCard, bool, error) {
	var cd pushCard
	find := func() (bool, error) {
		var cards []pushCard
		if err := c.api.GetJSON(ctx, "/lists/"+list+"/cards", urlValues("fields", pushCardFields), &cards); err != nil {
			return false, c.fail("list the cards of list "+list, err)
		}
		// Oldest first: should a card ever have been copied, the original
		// keeps the program.
		slices.SortFunc(cards, func(a, b pushCard) int { return strings.Compare(a.ID, b.ID) })
		for _, x := range cards {
			if program, _, ok := readMarker(x.Desc); ok && program == r.ID {
				cd = x
				return true, nil
			}
		}
		return false, nil
	}
	create := func() error {
		// The new card names its program only; the version marker comes
		// with the PUT that writes everything else, so a card whose
		// creation answer was lost is found and finished, not taken for
		// done.
		body := map[string]any{"idList": list, "name": cardName(r), "desc": markerPrefix + r.ID, "pos": "bottom"}
		var made pushCard
		if _, err := c.api.DoJSON(ctx, httpapi.Request{Method: http.MethodPost, Path: "/cards", JSON: body}, &made); err != nil {
			return c.fail("create the card of program "+r.ID+" in list "+list, err)
		}
		if made.ID == "" {
			return fmt.Errorf("create the card of program %s in list %s: the answer names no card", r.ID, list)
		}
		cd = made
		return nil
	}
	found, err := c.once(ctx, "create card", find, create)
	return cd, !found && err == nil, err
}

// writeCard puts the rollup on the card: description, due date, health
// label (and, for a card pmsync keeps in a list, its name) in one PUT.
func (c *Connector) writeCard(ctx context.Context, cd *pushCard, r pmsync.Rollup, owned bool) error {
	labels, err := c.healthLabels(ctx, cd.IDBoard, r.Health.Status)
	if err != nil {
		return err
	}
	idLabels := []string{labels.want}
	for _, id := range cd.IDLabels {
		if id != labels.want && !labels.health[id] {
			idLabels = append(idLabels, id)
		}
	}
	body := map[string]any{"desc": Summary(r), "due": dueOf(r), "idLabels": strings.Join(idLabels, ",")}
	if owned {
		body["name"] = cardName(r)
	}
	var updated pushCard
	if _, err := c.api.DoJSON(ctx, httpapi.Request{Method: http.MethodPut, Path: "/cards/" + cd.ID, JSON: body}, &updated); err != nil {
		return c.fail("update card "+cd.ID, err)
	}
	if updated.ID != "" {
		*cd = updated
	}
	return nil
}

// boardLabels are the health labels of a board: the one a rollup wants and
// the ids of all of them, to take the previous colour off.
type boardLabels struct {
	want   string
	health map[string]bool
}

// healthLabels finds the label for h on the board, creating it once when
// missing.
func (c *Connector) healthLabels(ctx context.Context, board string, h pmsync.HealthStatus) (boardLabels, error) {
	name, color, err := HealthLabel(h)
	if err != nil {
		return boardLabels{}, err
	}
	var bl boardLabels
	find := func() (bool, error) {
		var labels []labelDoc
		q := urlValues("fields", "id,name,color", "limit", strconv.Itoa(MaxPageLimit))
		if err := c.api.GetJSON(ctx, "/boards/"+board+"/labels", q, &labels); err != nil {
			return false, c.fail("list the labels of board "+board, err)
		}
		bl = boardLabels{health: map[string]bool{}}
		for _, l := range labels {
			n := strings.TrimSpace(l.Name)
			if strings.HasPrefix(strings.ToLower(n), strings.ToLower(healthLabelPrefix)) {
				bl.health[l.ID] = true
			}
			if bl.want == "" && strings.EqualFold(n, name) {
				bl.want = l.ID
			}
		}
		return bl.want != "", nil
	}
	create := func() error {
		var made labelDoc
		body := map[string]any{"name": name, "color": color}
		if _, err := c.api.DoJSON(ctx, httpapi.Request{Method: http.MethodPost, Path: "/boards/" + board + "/labels", JSON: body}, &made); err != nil {
			return c.fail("create label "+strconv.Quote(name)+" on board "+board, err)
		}
		if made.ID == "" {
			return fmt.Errorf("create label %q on board %s: the answer names no label", name, board)
		}
		bl.want = made.ID
		bl.health[made.ID] = true
		return nil
	}
	if _, err := c.once(ctx, "create label", find, create); err != nil {
		return boardLabels{}, err
	}
	return bl, nil
}

// comment adds the rollup's comment to the card unless a comment already
// carries its marker; posted reports whether this call added it.
func (c *Connector) comment(ctx context.Context, card string, r pmsync.Rollup) (bool, error) {
	marker := Marker(r)
	find := func() (bool, error) {
		var acts []struct {
			Data struct {
				Text string `json:"text"`
			} `json:"data"`
		}
		q := urlValues("filter", "commentCard", "fields", "id,type,date,data", "memberCreator", "false")
		if err := c.api.GetJSON(ctx, "/cards/"+card+"/actions", q, &acts); err != nil {
			return false, c.fail("read the comments of card "+card, err)
		}
		for _, a := range acts {
			for line := range strings.SplitSeq(a.Data.Text, "\n") {
				if strings.TrimSpace(line) == marker {
					return true, nil
				}
			}
		}
		return false, nil
	}
	post := func() error {
		req := httpapi.Request{Method: http.MethodPost, Path: "/cards/" + card + "/actions/comments", JSON: map[string]any{"text": Summary(r)}}
		if _, err := c.api.DoJSON(ctx, req, nil); err != nil {
			return c.fail("comment on card "+card, err)
		}
		return nil
	}
	found, err := c.once(ctx, "comment", find, post)
	return !found && err == nil, err
}

// once makes a write that must not be repeated blindly happen at most
// once: find looks for its result first; only when that finds nothing does
// write run. When write fails in a way that may have reached Trello (no
// answer, a timeout, 429, 5xx), find runs again before another try, so a
// write Trello stored before its answer was lost is found instead of made
// twice. found reports that find found it.
func (c *Connector) once(ctx context.Context, what string, find func() (bool, error), write func() error) (found bool, err error) {
	for attempt := 1; ; attempt++ {
		found, err := find()
		if err != nil || found {
			return found, err
		}
		err = write()
		if err == nil {
			return false, nil
		}
		wait, again := retryWrite(ctx, err, attempt)
		if !again {
			return false, err
		}
		c.log.Debug().Str("what", what).Int("attempt", attempt).Dur("duration", wait).Str("err", err.Error()).
			Msg("write may not have been stored; looking again before retrying")
		if err := c.sleep(ctx, wait); err != nil {
			return false, fmt.Errorf("%s: wait before retry: %w", what, err)
		}
	}
}

// retryWrite decides whether a failed write is worth another round (find,
// then write) and how long to wait first. A refusal (400, 401, 403, 404) is
// final; so is the caller giving up.
func retryWrite(ctx context.Context, err error, attempt int) (time.Duration, bool) {
	if ctx.Err() != nil || attempt >= maxPushAttempts {
		return 0, false
	}
	wait := time.Duration(1<<(attempt-1)) * time.Second
	var ae *connectors.APIError
	if errors.As(err, &ae) {
		if !ae.Temporary() {
			return 0, false
		}
		if ae.RetryAfter > 0 {
			wait = ae.RetryAfter
		}
	}
	return wait, true
}

// cardName is the name of a program's card in a list target.
func cardName(r pmsync.Rollup) string {
	if r.Name != "" {
		return r.Name
	}
	return r.ID
}

// dueOf is the due date a card gets for a rollup: noon UTC on the next
// open milestone's date, or null to clear it.
func dueOf(r pmsync.Rollup) any {
	m, ok := NextMilestone(r)
	if !ok {
		return nil
	}
	d := m.Due.Time()
	if d.IsZero() {
		return nil
	}
	return d.Add(dueHour * time.Hour).Format("2006-01-02T15:04:05.000Z")
}
