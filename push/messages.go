package push

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/pmsync/pmsync"
)

// Limits of the chat formats: Slack refuses a section text over 3000
// characters, a header over 150 and a message over 50 blocks; Teams takes
// about 28 KB. Programs beyond maxPrograms are counted, not listed.
const (
	slackSectionMax = 3000
	slackHeaderMax  = 150
	maxPrograms     = 20
	maxItems        = 5
)

// summaryLines are the portfolio's totals, one "label: text" per line.
func summaryLines(rep pmsync.Report) [][2]string {
	p := rep.Portfolio
	lines := [][2]string{
		{"Health", fmt.Sprintf("%d red · %d amber · %d green", p.Health.Red, p.Health.Amber, p.Health.Green)},
	}
	if p.Progress.Total > 0 {
		lines = append(lines, [2]string{"Progress", fmt.Sprintf("%.1f%% (%d of %d done)", p.Progress.Percent, p.Progress.Done, p.Progress.Total)})
	}
	m := p.Milestones
	lines = append(lines, [2]string{"Milestones", fmt.Sprintf("%d late · %d due soon · %d at risk · %d slipped (%d days)", m.Late, m.DueSoon, m.AtRisk, m.Slipped, m.SlipDays)})
	lines = append(lines, [2]string{"Red-flag risks", fmt.Sprintf("%d of %d open risks", p.Risks.RedFlags, p.Risks.Open)})
	if b := p.Budget; b.Planned != nil && *b.Planned > 0 {
		text := fmt.Sprintf("%s of %s spent", pmsync.Money(*b.Actual, 0), withCurrency(pmsync.Money(*b.Planned, 0), b.Currency))
		if b.BurnPercent != nil {
			text += fmt.Sprintf(" (%.1f%%", *b.BurnPercent)
			if b.ElapsedPercent != nil {
				text += fmt.Sprintf(" vs %.1f%% of time elapsed", *b.ElapsedPercent)
			}
			text += ")"
		}
		lines = append(lines, [2]string{"Budget", text})
	}
	return lines
}

func withCurrency(amount, currency string) string {
	if currency == "" {
		return amount
	}
	return amount + " " + currency
}

func title(rep pmsync.Report) string {
	return "Portfolio rollup — " + string(rep.AsOf)
}

// fallback is the one-line text of a message, for notifications.
func fallback(rep pmsync.Report) string {
	h := rep.Portfolio.Health
	return fmt.Sprintf("Portfolio rollup %s: %d red, %d amber, %d green", rep.AsOf, h.Red, h.Amber, h.Green)
}

// slackEscape neutralises Slack's markup characters in text from the
// tools: "<!channel>" in an item title must not ping a channel.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// truncate cuts s to at most n characters, marking the cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackMsg struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

func slackEmoji(h pmsync.HealthStatus) string {
	switch h {
	case pmsync.Red:
		return ":red_circle:"
	case pmsync.Amber:
		return ":large_orange_circle:"
	}
	return ":large_green_circle:"
}

func slackLink(title, url string) string {
	if url == "" {
		return slackEscape(title)
	}
	return "<" + slackEscape(url) + "|" + slackEscape(title) + ">"
}

// slackMessage is an incoming-webhook message: a header, the totals, one
// section per program in order of need of attention, the worst items, and
// the report version.
func slackMessage(rep pmsync.Report) slackMsg {
	mrkdwn := func(s string) slackBlock {
		return slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: truncate(s, slackSectionMax)}}
	}
	msg := slackMsg{Text: fallback(rep)}
	msg.Blocks = append(msg.Blocks, slackBlock{Type: "header", Text: &slackText{Type: "plain_text", Text: truncate(title(rep), slackHeaderMax)}})
	var sum []string
	for _, l := range summaryLines(rep) {
		sum = append(sum, "*"+l[0]+":* "+slackEscape(l[1]))
	}
	msg.Blocks = append(msg.Blocks, mrkdwn(strings.Join(sum, "\n")), slackBlock{Type: "divider"})
	byID := map[string]pmsync.Rollup{}
	for _, r := range rep.Programs {
		byID[r.ID] = r
	}
	for i, a := range rep.Portfolio.Attention {
		if i == maxPrograms {
			msg.Blocks = append(msg.Blocks, slackBlock{Type: "context", Elements: []slackText{{Type: "mrkdwn", Text: fmt.Sprintf("and %d more programs", len(rep.Portfolio.Attention)-maxPrograms)}}})
			break
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%s *%s* — %s", slackEmoji(a.Health), slackEscape(a.Name), strings.ToUpper(string(a.Health)))
		if a.Owner != "" {
			fmt.Fprintf(&b, " · %s", slackEscape(a.Owner))
		}
		r := byID[a.Program]
		if r.Progress.Total > 0 {
			fmt.Fprintf(&b, "\nProgress %.1f%%", r.Progress.Percent)
			if r.Budget.BurnPercent != nil {
				fmt.Fprintf(&b, " · budget burn %.1f%%", *r.Budget.BurnPercent)
			}
		}
		if a.Health != pmsync.Green {
			for _, reason := range a.Reasons {
				b.WriteString("\n• " + slackEscape(reason))
			}
		}
		if len(r.NextMilestones) > 0 {
			m := r.NextMilestones[0]
			fmt.Fprintf(&b, "\nNext: %s, due %s", slackLink(m.Title, m.URL), m.Due)
			if m.Forecast != nil {
				fmt.Fprintf(&b, " (forecast %s–%s)", m.Forecast.P50, m.Forecast.P85)
			}
		}
		msg.Blocks = append(msg.Blocks, mrkdwn(b.String()))
	}
	if late := rep.Portfolio.Late; len(late) > 0 {
		lines := []string{"*Late milestones*"}
		for i, x := range late {
			if i == maxItems {
				break
			}
			lines = append(lines, fmt.Sprintf("• %s (%s, due %s)", slackLink(x.Title, x.URL), slackEscape(x.Program), x.Due))
		}
		msg.Blocks = append(msg.Blocks, mrkdwn(strings.Join(lines, "\n")))
	}
	if flags := rep.Portfolio.RedFlags; len(flags) > 0 {
		lines := []string{"*Red-flag risks*"}
		for i, x := range flags {
			if i == maxItems {
				break
			}
			lines = append(lines, fmt.Sprintf("• %s (%s, score %d)", slackLink(x.Title, x.URL), slackEscape(x.Program), x.Score))
		}
		msg.Blocks = append(msg.Blocks, mrkdwn(strings.Join(lines, "\n")))
	}
	msg.Blocks = append(msg.Blocks, slackBlock{Type: "context", Elements: []slackText{{Type: "mrkdwn", Text: "pmsync report " + rep.Version}}})
	return msg
}

// Teams: an Adaptive Card in a message envelope, the form both the
// Workflows webhooks and the older incoming webhooks accept.
type teamsMsg struct {
	Type        string            `json:"type"`
	Attachments []teamsAttachment `json:"attachments"`
}

type teamsAttachment struct {
	ContentType string    `json:"contentType"`
	ContentURL  *string   `json:"contentUrl"`
	Content     teamsCard `json:"content"`
}

type teamsCard struct {
	Schema  string            `json:"$schema"`
	Type    string            `json:"type"`
	Version string            `json:"version"`
	Body    []teamsElement    `json:"body"`
	MSTeams map[string]string `json:"msteams,omitempty"`
}

type teamsElement struct {
	Type     string         `json:"type"`
	Text     string         `json:"text,omitempty"`
	Size     string         `json:"size,omitempty"`
	Weight   string         `json:"weight,omitempty"`
	Color    string         `json:"color,omitempty"`
	Wrap     bool           `json:"wrap,omitempty"`
	IsSubtle bool           `json:"isSubtle,omitempty"`
	Spacing  string         `json:"spacing,omitempty"`
	Facts    []teamsFact    `json:"facts,omitempty"`
	Items    []teamsElement `json:"items,omitempty"`
}

type teamsFact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

func teamsColour(h pmsync.HealthStatus) string {
	switch h {
	case pmsync.Red:
		return "Attention"
	case pmsync.Amber:
		return "Warning"
	}
	return "Good"
}

// teamsText keeps text from the tools from being read as the card's
// Markdown (links, emphasis, lists).
func teamsText(s string) string {
	return strings.NewReplacer("[", "(", "]", ")", "*", "∗", "_", "\\_", "\r", " ", "\n", " ").Replace(s)
}

func teamsLink(title, url string) string {
	if url == "" {
		return teamsText(title)
	}
	return "[" + teamsText(title) + "](" + url + ")"
}

func teamsMessage(rep pmsync.Report) teamsMsg {
	body := []teamsElement{{Type: "TextBlock", Text: teamsText(title(rep)), Size: "Large", Weight: "Bolder", Wrap: true}}
	var facts []teamsFact
	for _, l := range summaryLines(rep) {
		facts = append(facts, teamsFact{Title: l[0], Value: teamsText(l[1])})
	}
	body = append(body, teamsElement{Type: "FactSet", Facts: facts})
	for i, a := range rep.Portfolio.Attention {
		if i == maxPrograms {
			body = append(body, teamsElement{Type: "TextBlock", Text: fmt.Sprintf("and %d more programs", len(rep.Portfolio.Attention)-maxPrograms), IsSubtle: true, Wrap: true})
			break
		}
		head := fmt.Sprintf("%s — %s", teamsText(a.Name), strings.ToUpper(string(a.Health)))
		if a.Owner != "" {
			head += " · " + teamsText(a.Owner)
		}
		items := []teamsElement{{Type: "TextBlock", Text: head, Weight: "Bolder", Color: teamsColour(a.Health), Wrap: true}}
		if a.Health != pmsync.Green && len(a.Reasons) > 0 {
			var lines []string
			for _, r := range a.Reasons {
				lines = append(lines, "- "+teamsText(r))
			}
			items = append(items, teamsElement{Type: "TextBlock", Text: strings.Join(lines, "\n"), Wrap: true, Spacing: "None"})
		}
		body = append(body, teamsElement{Type: "Container", Items: items, Spacing: "Medium"})
	}
	list := func(head string, lines []string) {
		if len(lines) > 0 {
			body = append(body, teamsElement{Type: "TextBlock", Text: head, Weight: "Bolder", Wrap: true, Spacing: "Medium"},
				teamsElement{Type: "TextBlock", Text: strings.Join(lines, "\n"), Wrap: true, Spacing: "None"})
		}
	}
	var late, flags []string
	for i, x := range rep.Portfolio.Late {
		if i < maxItems {
			late = append(late, fmt.Sprintf("- %s (%s, due %s)", teamsLink(x.Title, x.URL), teamsText(x.Program), x.Due))
		}
	}
	for i, x := range rep.Portfolio.RedFlags {
		if i < maxItems {
			flags = append(flags, fmt.Sprintf("- %s (%s, score %d)", teamsLink(x.Title, x.URL), teamsText(x.Program), x.Score))
		}
	}
	list("Late milestones", late)
	list("Red-flag risks", flags)
	body = append(body, teamsElement{Type: "TextBlock", Text: "pmsync report " + rep.Version, IsSubtle: true, Size: "Small", Wrap: true})
	return teamsMsg{Type: "message", Attachments: []teamsAttachment{{
		ContentType: "application/vnd.microsoft.card.adaptive",
		Content: teamsCard{Schema: "http://adaptivecards.io/schemas/adaptive-card.json", Type: "AdaptiveCard", Version: "1.4", Body: body,
			MSTeams: map[string]string{"width": "Full"}},
	}}}
}
