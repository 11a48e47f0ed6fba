// Which form field an API error concerns, so that it is shown next to that field.

// The domain's reasons (API.md, "Errors") and the input field each one is about.
const FIELD_OF_REASON = {
  INVALID_DATETIME: 'date',
  VENUE_BUSY: 'venueId',
  VENUE_NOT_FOUND: 'venueId',
  TEAM_BUSY: 'teams',
  SAME_TEAM: 'teams',
  TEAM_NOT_FOUND: 'teams',
  INVALID_EMAIL: 'email',
};

/** `fieldOf(error)` for a form with these fields: by the error's reason, or for INVALID_TEXT
 * by the field its message starts with ("club must not be blank."); null: the whole form. */
export function fieldsOf(fields) {
  return (error) => {
    const reason = error.extensions?.reason;
    const byReason = FIELD_OF_REASON[reason];
    if (byReason && fields.includes(byReason)) return byReason;
    if (reason === 'INVALID_TEXT') {
      const subject = error.message.split(' ')[0];
      if (fields.includes(subject)) return subject;
    }
    return null;
  };
}

/** Every error of a one-field form concerns that field. */
export const allTo = (field) => () => field;
